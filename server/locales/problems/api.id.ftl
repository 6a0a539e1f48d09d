# Problems (api): judul dan jawaban yang bisa diterima setiap permintaan API.
# Kunci: problem-<subjek>-<hal>. Bahasa Indonesia.

## Judul, satu untuk tiap jenis masalah
problem-title-bad-request = Format permintaan salah
problem-title-validation = Isian permintaan tidak valid
problem-title-unauthorized = Perlu masuk terlebih dahulu
problem-title-forbidden = Tidak diizinkan untuk akun ini
problem-title-not-found = Tidak ditemukan
problem-title-conflict = Konflik
problem-title-unprocessable = Permintaan tidak dapat diproses
problem-title-payload-too-large = Isi permintaan terlalu besar
problem-title-unsupported-media-type = Harus application/json
problem-title-unavailable = Layanan tidak tersedia
problem-title-upgrade-required = Endpoint ini hanya melayani WebSocket
problem-title-too-many-requests = Terlalu banyak percobaan
problem-title-too-many-connections = Terlalu banyak koneksi terbuka
problem-title-internal = Kesalahan server
problem-title-method-not-allowed = Metode tidak diizinkan

## Rincian yang bisa diberikan setiap alamat
problem-payload-too-large = isi permintaan lebih besar dari yang diterima server ini
problem-unsupported-media-type = kirim isi permintaan sebagai application/json
problem-upgrade-required = sambungkan dengan klien WebSocket
problem-unavailable = layanan sedang tidak tersedia untuk sementara; coba lagi sebentar lagi
problem-forbidden = tidak diizinkan untuk akun ini
problem-not-found = { $what } tidak ditemukan
problem-body-not-json = isi permintaan bukan JSON yang valid
problem-query-malformed = format query string salah
problem-page-limit = harus antara 1 dan 200
problem-page-cursor = bukan kursor dari API ini

## Satu isian dari isi permintaan
problem-field-required = wajib diisi
problem-field-unknown = tidak dikenal dalam permintaan ini
problem-field-not-accepted = `{ $value }` tidak diterima; yang diharapkan salah satu dari: { $expected }
problem-field-wrong-type = harus berupa { $expected }, bukan { $got }
json-got-text = teks { $value }
json-got-number = angka { $value }
json-got-object = objek
json-got-list = daftar
json-expected-unsigned = bilangan bulat 0 atau lebih
json-expected-integer = bilangan bulat
json-expected-number = angka
json-expected-text = teks
json-expected-boolean = true atau false
json-expected-list = daftar
json-expected-object = objek
problem-text-blank = tidak boleh kosong
problem-text-too-long = paling banyak { $max } karakter
problem-text-control = tidak boleh berisi karakter kontrol
problem-text-invisible = tidak boleh berisi karakter format tak terlihat (pembalik arah, lebar nol)

## Masuk dan token
problem-auth-no-token = token bearer tidak ada
problem-auth-token-invalid = token tidak valid atau sudah kedaluwarsa
problem-auth-inactive = akun tidak aktif
problem-auth-session-ended = sesi sudah berakhir
problem-auth-bad-credentials = e-mail atau kata sandi salah
problem-auth-refresh-unknown = refresh token tidak dikenal
problem-auth-refresh-expired = refresh token sudah kedaluwarsa
problem-auth-refresh-reused = refresh token sudah pernah dipakai; sesi dicabut
problem-auth-webhook-signature = X-Hub-Signature-256 tidak valid

## Yang disebut oleh masalah "tidak ditemukan"
thing-action = tindakan
thing-assignment = penugasan
thing-blob = berkas
thing-blob-bytes = isi berkas
thing-call = panggilan
thing-conversation = percakapan
thing-customer = pelanggan
thing-department = departemen
thing-extension = perpanjangan
thing-invoice = faktur
thing-journey = journey
thing-payment = pembayaran
thing-pdf = PDF
thing-photo = foto
thing-photo-bytes = isi foto
thing-rating = penilaian
thing-request = permintaan
thing-resource = sumber daya
thing-route = alamat
thing-shift = shift
thing-thumbnail = gambar kecil
thing-ticket = tiket
thing-upload = unggahan
thing-user = pengguna
thing-visit = kunjungan
thing-rating-request = permintaan penilaian
thing-webhook = webhook

## Idempotensi
problem-idempotency-retry-in-progress = pengulangan permintaan ini dengan Idempotency-Key yang sama sedang diproses

## Keunikan
problem-duplicate = { $field } sudah dipakai

## Soket
problem-socket-too-many-account = akun ini membuka terlalu banyak koneksi; tutup salah satunya
problem-socket-too-many-address = terlalu banyak koneksi dari alamat ini yang belum masuk

## Pembatasan masuk
problem-auth-throttled = terlalu banyak percobaan masuk yang gagal; coba lagi dalam { $wait }
problem-auth-throttled-seconds = { $secs } detik
problem-auth-throttled-minutes = { $minutes } menit
