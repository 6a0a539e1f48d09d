# Problems (field): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. Bahasa Indonesia.


## Visits
problem-visit-cancelled = kunjungan sudah dibatalkan
problem-visit-done = kunjungan sudah selesai
problem-visit-not-held = Anda belum mengambil kunjungan ini
problem-visit-date-format = harus berupa tanggal dengan format YYYY-MM-DD
problem-visit-date-range = harus berupa tanggal dengan format YYYY-MM-DD antara tahun 2000 dan 2100
problem-visit-ticket-unknown = tiket tidak ditemukan (isi id atau nomornya, mis. TKT-000123)
problem-visit-ticket-other-customer = tiket ini milik pelanggan lain
problem-visit-start-past = sudah lewat; kunjungan dimulai hari ini atau sesudahnya (admin dapat mencatat mundur dengan force)
problem-visit-planned-days-range = harus antara 1 dan 366
problem-visit-quota-range = harus antara 1 dan 100
problem-visit-customer-unknown = pelanggan tidak ditemukan
problem-visit-customer-inactive = pelanggan tidak aktif
problem-visit-department-unknown = departemen tidak ditemukan
problem-visit-claimed-reschedule = { $count } teknisi sudah mengambil kunjungan ini; mengubah jadwal atau lokasi hanya bisa dilakukan admin dengan opsi `force`
problem-visit-claimed-cancel = { $count } teknisi sudah mengambil kunjungan ini; pembatalan hanya bisa dilakukan admin dengan opsi `force`
problem-visit-quota-below-claims = { $count } teknisi sudah mengambil kunjungan ini; kuota tidak boleh kurang dari itu
problem-visit-still-on-site = { $count } teknisi masih check-in; mereka harus check-out dulu
problem-visit-never-attended = belum ada yang check-in dan check-out di kunjungan ini
problem-visit-not-done = hanya kunjungan yang sudah selesai yang dapat dibuka kembali
problem-visit-invoiced = kunjungan ini sudah masuk faktur; batalkan fakturnya (atau koreksi dengan nota kredit) terlebih dahulu

## Claims and assignments
problem-claim-returned = CS telah melepas Anda dari kunjungan ini; hubungi CS sebelum mengambilnya lagi
problem-claim-rescheduled = jadwal kunjungan berubah sementara itu; periksa lagi lalu coba ulang
problem-claim-already-held = Anda sudah mengambil kunjungan ini
problem-claim-schedule-conflict = Anda sudah mengambil "{ $title }" ({ $visit }) pada sebagian hari yang sama
problem-claim-quota-full = kunjungan sudah penuh: kuota { $quota } teknisi sudah terisi
problem-claim-checked-in = Anda sudah check-in di kunjungan ini; minta CS untuk melepaskannya
problem-assignment-not-active = penugasan sudah tidak aktif
problem-assignment-on-site = teknisi sedang check-in di lokasi; kembalikan dengan `force` dan alasan, yang sekaligus mencatat check-out-nya

## Attendance
problem-attendance-lat-range = harus antara -90 dan 90
problem-attendance-lon-range = harus antara -180 dan 180
problem-attendance-accuracy-range = harus antara 0 dan 100000 meter
problem-attendance-device-time = bukan waktu yang masuk akal
problem-attendance-already-checked-in = Anda sudah check-in; check-out dulu
problem-attendance-not-checked-in = Anda belum check-in di kunjungan ini

## Extensions
problem-extension-days-range = extra_days harus antara 1 dan 30
problem-extension-pending = Anda masih punya permintaan yang menunggu keputusan
problem-extension-decided = permintaan ini sudah { $status ->
        [approved] disetujui
        [rejected] ditolak
       *[other] diputuskan ({ $status })
    }
problem-extension-max-days = kunjungan direncanakan paling lama { $max } hari
problem-extension-decided-meanwhile = permintaan ini sudah diputuskan sementara itu
thing-extension-request = permintaan perpanjangan

## Journey forms: drafts and publishing
problem-journey-draft-title = perlu judul
problem-journey-draft-nodes = berisi paling banyak { $max } node
problem-journey-stale = draf berubah sementara itu; muat ulang
problem-journey-department-unknown = menyebut departemen yang tidak ada
problem-journey-no-draft = journey ini belum punya draf untuk diterbitkan; simpan draf dulu
problem-journey-not-published = journey ini belum punya versi yang diterbitkan

## Journey forms: what is wrong with a definition
problem-journey-definition-text = harus terisi, satu baris, paling banyak 500 karakter, dalam kedua bahasa
problem-journey-definition-node-count = harus berisi 1 sampai { $max } node
problem-journey-definition-duplicate-id = id { $id } dipakai dua kali
problem-journey-definition-unknown-node = tidak ada node { $id }
problem-journey-definition-backward-jump = melompat mundur ke { $id }; lompatan hanya boleh ke node sesudahnya
problem-journey-definition-not-a-question = { $id } bukan pertanyaan
problem-journey-definition-falls-off = adalah node terakhir: pertanyaan harus berujung pada akhir formulir
problem-journey-definition-unreachable = tidak ada alur dari awal yang sampai ke sini
problem-journey-definition-later-question = menguji { $id }, yang muncul kemudian: syarat hanya menguji pertanyaan ini atau yang sebelumnya
problem-journey-definition-test-does-not-fit = uji `{ $test }` tidak cocok untuk pertanyaan jenis { $kind }
problem-journey-definition-unknown-choice = tidak ada pilihan { $id }
problem-journey-definition-condition-shape = grup tidak boleh kosong, bersarang paling dalam { $depth } tingkat, dan berisi paling banyak { $size } bagian
problem-journey-definition-category = harus berupa kode kategori (a-z, 0-9, _)
problem-journey-limit-rules = satu pertanyaan berisi paling banyak 20 aturan
problem-journey-limit-choices = pertanyaan pilihan menawarkan 1 sampai 50 pilihan
problem-journey-limit-multi = min ≤ max ≤ jumlah pilihan, dan max ≥ 1
problem-journey-limit-text = max_chars harus dalam 1..=5000
problem-journey-limit-number = min dan max harus bilangan berhingga, min ≤ max, dengan bilangan bulat di antaranya bila hanya bilangan bulat yang diterima
problem-journey-limit-date = earliest tidak boleh sesudah latest
problem-journey-limit-image = max_count dalam 1..=10, max_bytes dalam 1 byte..=10 MiB
problem-journey-limit-finite = nilainya harus bilangan berhingga
problem-journey-limit-test-choices = satu uji menyebut paling banyak 50 pilihan

## Journey forms: submitted answers
problem-journey-answers-count = berisi paling banyak { $max } jawaban
problem-journey-answer-too-large = lebih besar dari yang diizinkan pertanyaan mana pun
problem-journey-started-at = harus waktu formulir mulai diisi, bukan waktu di masa depan
problem-journey-retired = versi formulir ini sudah ditarik sebelum formulir mulai diisi (atau lebih dari 14 hari lalu); mulai lagi dari awal
problem-journey-photo-not-uploaded = foto { $hash } belum diunggah
problem-journey-photo-too-large = foto { $hash } lebih besar dari { $limit } byte
problem-journey-answers-incomplete = tidak sampai ke akhir formulir
problem-journey-answer-required = wajib diisi
problem-journey-answer-not-on-path = tidak ditanyakan pada alur ini
problem-journey-answer-unknown-question = bukan pertanyaan formulir ini
problem-journey-answer-wrong-kind = menerima jawaban jenis { $kind }
problem-journey-answer-unknown-choice = tidak punya pilihan { $choice }
problem-journey-answer-duplicate-choice = menyebut satu pilihan dua kali
problem-journey-answer-too-few = perlu paling sedikit { $min }
problem-journey-answer-too-many = menerima paling banyak { $max }
problem-journey-answer-text = harus berupa teks yang terisi, dalam batas panjang, tanpa karakter kontrol
problem-journey-answer-out-of-range = di luar rentang yang diterima
problem-journey-answer-date-out-of-range = di luar rentang tanggal yang diterima

## Calls
problem-call-push-platform = harus fcm atau apns_voip
problem-call-push-token = harus 1 sampai 4096 karakter tanpa spasi

## Photos and uploaded files
problem-photo-not-an-image = berkas bukan gambar JPEG, PNG atau WebP, juga bukan PDF
problem-photo-too-many-pixels = gambar berukuran { $width }×{ $height } piksel; paling banyak { $max } piksel yang diterima
problem-photo-corrupt = gambar rusak atau tidak lengkap
problem-photo-corrupt-pdf = PDF rusak atau tidak lengkap
problem-photo-hash-mismatch = isi berkas tidak sesuai dengan SHA-256 yang disebut saat unggahan dibuat

## Values checked at the edge
problem-email-invalid = harus berupa alamat e-mail yang valid
problem-phone-format = harus berupa nomor telepon, mis. +6281234567890
problem-phone-invalid = bukan nomor telepon yang valid
problem-password-too-short = paling sedikit 8 karakter
problem-password-too-long = paling banyak 128 karakter
problem-geo-lat-range = lat harus antara -90 dan 90
problem-geo-lon-range = lon harus antara -180 dan 180

## Sync commands
problem-sync-command-out-of-order = perintah yang lebih baru dari perangkat ini sudah dijalankan
problem-sync-command-taken = { $field } sudah dipakai
problem-sync-command-unavailable = sementara tidak tersedia; coba lagi nanti
problem-sync-command-conversation-required = `conversation_id` wajib diisi untuk staf

## Sync sessions
problem-sync-session-hello-first = pesan pertama harus Hello
problem-sync-session-version = versi protokol tidak didukung; perbarui aplikasi
problem-sync-session-token-expired = token akses kedaluwarsa; perbarui token
problem-sync-session-retry = coba lagi nanti
problem-sync-session-already-open = sesi sudah terbuka
problem-sync-session-failed = terjadi kesalahan pada server; coba lagi nanti

## Teks tersimpan: dibaca dalam bahasa tiap pembaca
stored-release-deactivated = akun dinonaktifkan
