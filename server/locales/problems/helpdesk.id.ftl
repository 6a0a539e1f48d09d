# Problems (helpdesk): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. Bahasa Indonesia.


## Tiket
problem-ticket-department-unknown = departemen tidak ditemukan
problem-ticket-assignee-not-member = harus staf aktif di departemen tiket ini
problem-ticket-category-unknown = harus salah satu dari { $categories }
problem-ticket-customer-required = wajib diisi
problem-ticket-id-not-uuid = harus berupa UUID
problem-ticket-customer-unknown = pelanggan tidak ditemukan
problem-ticket-customer-inactive = pelanggan tidak aktif (dihapus); pulihkan datanya terlebih dahulu
problem-ticket-department-staff-only = hanya dapat dipilih oleh staf
problem-ticket-exists = tiket atau dokumen dengan id ini sudah ada
problem-ticket-sha256-format = harus 64 digit heksadesimal huruf kecil
problem-ticket-image-not-uploaded = bukan gambar yang Anda unggah: unggah terlebih dahulu (POST /api/v1/uploads)
problem-ticket-not-an-image = bukan gambar: tiket hanya menerima foto JPEG, PNG, atau WebP
problem-ticket-image-too-large = melebihi ukuran yang diterima tiket ({ $size } byte, paling besar { $max })
problem-ticket-closed = tiket sudah ditutup
problem-ticket-attachments-full = tiket sudah berisi { $max } gambar (batas maksimum)
problem-ticket-invalid-transition =
    tiket berstatus { $from ->
        [open] terbuka
        [in_progress] diproses
        [resolved] selesai
        [closed] ditutup
       *[other] { $from }
    } tidak bisa diubah menjadi { $to ->
        [open] terbuka
        [in_progress] diproses
        [resolved] selesai
        [closed] ditutup
       *[other] { $to }
    }
problem-ticket-stale = tiket sudah berubah sejak Anda membukanya; muat ulang

## Shift
problem-shift-time-format = harus berformat HH:MM
problem-shift-customer = pelanggan tidak punya shift
problem-shift-same-start-end = harus berbeda dari jam mulai (`start`)
problem-shift-start-and-end = isi jam mulai dan jam selesai (`start` dan `end`) sekaligus, atau kosongkan keduanya

## Penjelasan SLA (ditampilkan bersama tenggat tiket)
problem-sla-explanation =
    Prioritas { $priority ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $priority }
    }: respons pertama dalam { $response } dan penyelesaian dalam { $resolution } { $counted }, dihitung sejak { $start }
problem-sla-around-the-clock = sepanjang waktu (24/7)
problem-sla-business-time = waktu kerja ({ $calendar })
problem-sla-holidays = { $count } hari libur tidak dihitung
problem-sla-escalated = dieskalasi pada { $at } setelah tenggat terlewat, jadi tenggatnya mengikuti prioritas ini, dihitung sejak eskalasi
problem-sla-paused = waktu dijeda { $count } kali, total { $duration }, selama menunggu pelanggan
problem-sla-waiting = dijeda sejak { $since } (menunggu pelanggan), jadi saat ini tidak ada tenggat yang berjalan
problem-sla-hours = { $hours } jam
problem-sla-minutes = { $minutes } menit
problem-sla-hours-minutes = { $hours } jam { $minutes } menit

## Teks tersimpan: disimpan sebagai rujukan katalog, dibaca dalam bahasa tiap pembaca
stored-assign-manual = manual: dipilih oleh { $name }
stored-assign-round-robin-first =
    bergiliran: 1 dari { $pool } agen yang tersedia di departemen dalam jam kerjanya; paling lama tidak mendapat tugas (belum pernah ditugaskan); tiket berprioritas { $priority ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $priority }
    } diambil lebih dulu menurut prioritas lalu umur
stored-assign-round-robin =
    bergiliran: 1 dari { $pool } agen yang tersedia di departemen dalam jam kerjanya; paling lama tidak mendapat tugas (terakhir ditugaskan { $last }); tiket berprioritas { $priority ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $priority }
    } diambil lebih dulu menurut prioritas lalu umur
stored-sla-escalated =
    Tenggat { $breach ->
        [response] respons pertama
       *[other] penyelesaian
    } SLA terlewat; prioritas { $from ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $from }
    } -> { $to ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $to }
    }; tenggat dihitung ulang untuk { $to ->
        [urgent] mendesak
        [high] tinggi
        [normal] normal
        [low] rendah
       *[other] { $to }
    }, mulai sekarang

stored-chat-photo = [Foto]
stored-chat-photo-too-large = [Foto terlalu besar untuk disimpan] { $caption }
stored-chat-photo-unreadable = [Foto yang tidak dapat dibaca] { $caption }
stored-chat-photo-unavailable = [Foto yang tidak lagi tersedia di WhatsApp] { $caption }
stored-chat-unsupported = [{ $kind ->
        [audio] Pesan suara
        [video] Video
        [document] Dokumen
        [sticker] Stiker
        [location] Lokasi
        [contacts] Kartu kontak
       *[other] Pesan { $kind }
    } yang tidak dapat ditampilkan fieldops; pelanggan diminta mengirim teks atau foto]
## Yang diberitahukan kepada pelanggan dalam obrolannya (pesan sistem, juga lewat WhatsApp)
chat-system-nobody-available = Terima kasih atas pesan Anda. Saat ini belum ada agen yang tersedia; kami akan membalas segera setelah ada agen.
chat-system-picked-up = { $name } dari layanan pelanggan kami sekarang menangani percakapan Anda.

## Pendaftaran lewat WhatsApp (balasan selalu dalam Bahasa Indonesia)
wa-register-help = Untuk mendaftar, kirim: DAFTAR#<nama>#<alamat>#<kota> (contoh: DAFTAR#Budi Santoso#Jl. Merdeka 1#Bandung)
wa-register-bad = Format pendaftaran salah ({ $why }). { $help }
wa-register-done = Terima kasih { $name }, pendaftaran Anda berhasil. Balas pesan ini untuk menghubungi layanan pelanggan kami.
wa-register-fields = harus berformat DAFTAR#<nama>#<alamat>#<kota>
wa-register-field = { $field } { $problem }
wa-register-name = nama
wa-register-address = alamat
wa-register-city = kota
wa-customer-inactive = Data pelanggan Anda sedang tidak aktif, jadi pesan Anda tidak kami teruskan. Silakan hubungi kantor kami untuk mengaktifkannya kembali.
wa-register-differs = Terima kasih { $name }. Nomor ini sudah terdaftar; perubahan data yang Anda kirim sudah kami teruskan ke layanan pelanggan untuk dikonfirmasi.
wa-photo-too-large = Maaf, foto Anda terlalu besar untuk kami simpan. Mohon kirim ulang dengan ukuran di bawah { $max_mb } MB.
wa-photo-unreadable = Maaf, foto Anda tidak dapat kami baca. Mohon kirim ulang sebagai foto JPEG atau PNG.
wa-photo-unavailable = Maaf, foto Anda tidak sampai ke kami. Mohon kirim ulang.
wa-media-unsupported = Maaf, di sini kami hanya dapat menerima teks dan foto. Mohon tulis pesan Anda atau kirim foto.
