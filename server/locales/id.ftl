# fieldops: setiap teks yang dibaca orang, dalam Bahasa Indonesia.
# Katalog bahasa Inggris (en.ftl) harus memuat pesan yang sama (diperiksa oleh tes).

## Navigasi dan kepala halaman
nav-label = Utama
nav-dashboard = Dasbor
nav-dispatch = Penugasan
nav-attendance = Kehadiran
nav-extensions = Perpanjangan
role-admin = Admin
role-cs = Layanan pelanggan
role-sales = Sales
role-technician = Teknisi
role-customer = Pelanggan
presence-label = Status
presence-set = Ubah
presence-available = Tersedia
presence-busy = Sibuk
presence-away = Tidak di tempat
presence-offline = Offline
sign-out = Keluar

## Masuk
sign-in-title = Masuk
sign-in-lead = Masuk ke konsol fieldops.
sign-in-email = E-mail
sign-in-password = Kata sandi
sign-in-submit = Masuk
sign-in-wrong = E-mail atau kata sandi salah.
sign-in-throttled = Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.
sign-in-inactive = Akun ini tidak aktif. Minta admin untuk memulihkannya.

## Pesan
console-home = Dasbor
console-not-staff-title = Bukan untuk akun ini
console-not-staff-detail = Konsol ini untuk staf fieldops. Pelanggan memakai aplikasi fieldops atau WhatsApp.
console-csrf-title = Permintaan ditolak
console-csrf-detail = Formulir ini sudah kedaluwarsa atau tidak berasal dari konsol ini. Kembali, muat ulang halaman, lalu coba lagi.
console-error-title = Terjadi kesalahan
console-error-detail = Server tidak dapat menyelesaikannya. Tidak ada yang berubah; coba lagi sebentar lagi.
console-forbidden-title = Tidak diizinkan
console-forbidden-detail = Peran Anda tidak boleh membuka halaman ini atau membuat perubahan ini.
console-not-found-title = Halaman tidak ditemukan
console-not-found-detail = Tidak ada halaman seperti itu di konsol.
console-check-fields = Periksa kembali isian yang ditandai.
console-taken = Sudah dipakai.
console-not-a-number = Masukkan angka.
console-required = Wajib diisi.
console-seats = { $taken } dari { $quota } teknisi

## Dasbor
dash-tickets = Tiket
dash-total = Total
dash-urgent = Mendesak (terbuka)
dash-visits-today = Kunjungan hari ini
dash-attendance-today = Kehadiran hari ini
dash-pending-extensions = Permintaan perpanjangan
dash-pending = Menunggu
dash-agents = Agen
ticket-status-open = Terbuka
ticket-status-in_progress = Diproses
ticket-status-resolved = Selesai
ticket-status-closed = Ditutup
visit-status-open = Terbuka
visit-status-assigned = Ditugaskan
visit-status-in_progress = Dikerjakan
visit-status-done = Selesai
visit-status-cancelled = Dibatalkan

## Papan penugasan
board-open = Pool terbuka
board-assigned = Ditugaskan
board-in-progress = Dikerjakan
board-done-today = Selesai hari ini
board-empty = Belum ada.
board-emergency = Darurat: perlu teknisi sekarang
board-on-site = di lokasi
board-return-reason = Alasan (mis. tidak hadir)
board-return = Kembalikan ke pool
board-return-reason-needed = Tuliskan alasan teknisi dikembalikan ke pool.
board-cancel = Batalkan kunjungan
board-created = Kunjungan “{ $title }” sudah masuk pool.
visit-new = Kunjungan baru
visit-customer = Pelanggan
visit-customer-pick = Pilih pelanggan
visit-department = Departemen
visit-title = Judul
visit-description = Keterangan
visit-address = Alamat lokasi
visit-lat = Lintang
visit-lon = Bujur
visit-start = Hari pertama
visit-days = Jumlah hari
visit-quota = Teknisi dibutuhkan
visit-create = Masukkan ke pool

## Kehadiran
attendance-expected = Dijadwalkan
attendance-late = Terlambat
attendance-absent = Tidak hadir
attendance-present = Hadir
attendance-empty = Tidak ada teknisi yang dijadwalkan berkunjung hari ini.
attendance-technician = Teknisi
attendance-visit = Kunjungan
attendance-status = Status
attendance-check-in = Check-in
attendance-check-out = Check-out
attendance-distance = Jarak dari lokasi
attendance-geofence = Geofence
attendance-arrived-late = datang terlambat
attendance-outside = Di luar
attendance-inside = Di dalam
attendance-plot = Lokasi dan posisi check-in
attendance-plot-caption = Kotak adalah lokasi, titik adalah tempat teknisi check-in; merah berarti di luar geofence.

## Perpanjangan
extensions-empty = Tidak ada permintaan perpanjangan yang menunggu.
extensions-days = Tambahan hari
extensions-reason = Alasan
extensions-asked = Diajukan
extensions-decision = Keputusan
extensions-note = Catatan (opsional)
extensions-approve = Setujui
extensions-reject = Tolak

## Tiket
nav-tickets = Tiket
tickets-search = Cari tiket (nomor, subjek, pelanggan)
tickets-status = Status
tickets-any-status = Semua status
tickets-priority = Prioritas
tickets-any-priority = Semua prioritas
tickets-assignee = Ditangani oleh
tickets-anyone = Siapa saja
tickets-mine = Saya
tickets-unassigned = Belum ada
tickets-filter = Saring
tickets-empty = Tidak ada tiket yang cocok. Hapus saringan untuk melihat semua tiket yang boleh Anda tangani.
tickets-number = Nomor
tickets-subject = Subjek
tickets-category = Kategori
tickets-created = Dibuka
tickets-next = Halaman berikutnya
priority-low = Rendah
priority-normal = Normal
priority-high = Tinggi
priority-urgent = Mendesak
sla-left = { $time } lagi
sla-late = terlambat { $time }
sla-paused = dijeda: menunggu pelanggan
sla-stopped = —
author-customer = Pelanggan
author-staff = Staf
author-system = Sistem
ticket-thread = Percakapan
ticket-no-messages = Belum ada pesan.
ticket-internal = catatan internal
ticket-reply = Balas
ticket-internal-note = Catatan internal (hanya staf)
ticket-send = Kirim
ticket-move-open = Buka kembali
ticket-move-in_progress = Mulai kerjakan
ticket-move-resolved = Tandai selesai
ticket-move-closed = Tutup
ticket-take = Ambil
ticket-assign-to = Tugaskan ke
ticket-assign = Tugaskan

## Obrolan
nav-chat = Obrolan
chat-conversations = Percakapan
chat-empty = Belum ada percakapan. Pelanggan memulainya dari aplikasi atau WhatsApp.
chat-unread = pesan belum dibaca
chat-pick = Pilih percakapan di sebelah kiri.
chat-reply = Balas
chat-via-whatsapp = dikirim lewat WhatsApp

## Pelanggan
nav-customers = Pelanggan
customers-search = Cari nama, telepon atau e-mail
customers-active = Aktif
customers-inactive = Dihapus (tidak aktif)
customers-empty = Tidak ada pelanggan yang cocok. Tambahkan lewat formulir di bawah.
customers-name = Nama
customers-phone = Telepon
customers-city = Kota
customers-address = Alamat
customers-since = Sejak
customers-actions = Tindakan
customers-edit = Ubah
customers-delete = Hapus
customers-restore = Pulihkan
customers-new = Pelanggan baru
customers-edit-title = Ubah data pelanggan
customers-create = Tambah pelanggan
customers-save = Simpan perubahan

## Pengguna
nav-users = Staf
users-search = Cari nama atau e-mail
users-role = Peran
users-shift = Jam kerja
users-shift-start = Jam kerja mulai
users-shift-end = Jam kerja selesai
users-inactive = tidak aktif
users-reset-password = Atur ulang kata sandi
users-deactivate = Nonaktifkan
users-activate = Aktifkan kembali
users-new = Rekan baru
users-create = Buat akun
users-temporary-password = Kata sandi sementara { $name }: { $password } — berikan langsung kepadanya; semua sesinya sudah diakhiri.
board-newest-only = Menampilkan 200 terbaru; saring lewat API atau selesaikan sebagian dulu.
board-return-on-site = Sedang di lokasi: check-out-kan lalu kembalikan
attendance-returned = dikembalikan ke pool
ticket-visits = Kunjungan untuk tiket ini
visit-ticket = Tiket (opsional)
dash-queue = Menunggu agen

## Invoices, sent to the customer over WhatsApp
wa-invoice-sent = Halo { $name }, invoice { $number } sebesar { $total } sudah kami terbitkan. Lihat rinciannya di aplikasi fieldops, lalu kirim foto bukti transfer di sana setelah membayar. Terima kasih.
wa-credit-note-sent = Halo { $name }, nota kredit { $number } sebesar { $total } mengurangi tagihan Anda. Rinciannya ada di aplikasi fieldops.
