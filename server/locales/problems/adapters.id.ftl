# Problems (adapters): what the HTTP handlers and the console answer when a request is refused.
# Keys: problem-<subject>-<what>.

## Filters and query parameters

problem-filter-text-too-long = maksimal { $max } karakter
problem-filter-date-format = harus berupa tanggal, YYYY-MM-DD
problem-filter-date-out-of-range = di luar rentang yang didukung
problem-filter-from-after-to = tidak boleh setelah `to`
problem-filter-span-too-long = rentangnya lebih dari tiga tahun
problem-filter-extension-status = harus pending, approved, atau rejected
problem-filter-visit-status = harus open, assigned, in_progress, done, atau cancelled
problem-filter-near = harus berupa lat,lon dalam rentang yang valid
problem-filter-within-km = harus antara 0 dan 20000
problem-filter-assigned-to = harus berupa id pengguna, `me`, atau `unassigned`
problem-filter-kpi-subject = harus technician, agent, department, atau all
problem-filter-kpi-id-required = wajib diisi untuk subjek ini
problem-filter-kpi-period = harus day, week, atau month
problem-filter-csv-separator = harus comma atau semicolon

## Request fields

problem-request-required = wajib diisi
problem-request-time-format = harus berupa waktu RFC 3339 dengan offset zona waktu
problem-request-sha256-format = harus 64 digit heksadesimal huruf kecil
problem-request-language = harus salah satu dari: id, en, atau null
problem-request-password-wrong = salah

## Chat

problem-chat-client-id-format = maksimal 100 karakter ASCII yang dapat dicetak
problem-chat-customer-unknown = tidak merujuk ke pelanggan mana pun

## Idempotency keys

problem-idempotency-key-format = harus 1 sampai 255 karakter ASCII yang terlihat
problem-idempotency-key-reused = Idempotency-Key ini sudah dipakai untuk permintaan lain
problem-idempotency-in-progress = permintaan dengan Idempotency-Key ini masih diproses

## Uploads (tus)

problem-tus-title-version = Versi tus tidak didukung
problem-tus-version-detail = kirim Tus-Resumable: { $version }
problem-tus-header-not-integer = { $header } harus berupa bilangan bulat tidak negatif
problem-tus-metadata-not-base64 = { $key } bukan base64 UTF-8
problem-tus-metadata-bad-key = kunci { $key } berisi spasi atau karakter kontrol
problem-tus-metadata-duplicate = { $key } diberikan dua kali
problem-tus-defer-length = Upload-Defer-Length tidak didukung
problem-tus-length-zero = Upload-Length harus lebih dari nol
problem-tus-metadata-too-long = terlalu panjang
problem-tus-sha256-required = harus berupa SHA-256 dari isi berkas, 64 digit heksadesimal huruf kecil
problem-tus-length-mismatch = server sudah menyimpan berkas dengan SHA-256 ini dengan panjang yang berbeda
problem-tus-title-media-type = Harus application/offset+octet-stream
problem-tus-offset-mismatch = unggahan berada di offset { $offset }; kirim HEAD lalu lanjutkan dari sana
problem-tus-chunk-incomplete = potongan data tiba tidak lengkap
problem-tus-title-too-large = Isi permintaan terlalu besar
problem-tus-chunk-past-length = potongan data melewati Upload-Length
problem-tus-moved-on = permintaan lain sudah memajukan unggahan ini; kirim HEAD lalu lanjutkan dari sana

## Sync sessions

problem-sync-signed-out = sesi berakhir; silakan masuk lagi
problem-sync-account-changed = akun berubah; sambungkan ulang
problem-sync-frame-too-large = { $error }; satu frame paling besar { $max } byte
problem-sync-hello-too-large = sesi dibuka dengan Hello paling besar { $max } byte, bukan { $announced }
problem-sync-hello-malformed = sesi dibuka dengan Hello dalam satu pesan biner
problem-sync-hello-timeout = tidak ada Hello dalam { $seconds } detik
problem-sync-batch-not-frames = isi permintaan bukan frame berawalan panjang
problem-sync-bad-frame = frame rusak: { $error }
problem-sync-batch-empty = batch kosong

## The console's event socket

problem-socket-message-too-large = pesan konsol paling besar { $max } byte
problem-socket-not-a-frame = bukan frame WebSocket

## WhatsApp webhook

problem-whatsapp-not-a-payload = bukan payload webhook WhatsApp

## Console

problem-console-form-too-large = formulir terlalu besar
problem-console-unavailable = layanan tidak tersedia
problem-console-render-failed = halaman gagal ditampilkan
problem-console-minutes-whole = harus berupa jumlah menit dalam bilangan bulat

## Journey builder

problem-journey-builder-not-a-number = { $value } bukan angka
problem-journey-builder-not-a-count = { $value } bukan jumlah yang valid
problem-journey-builder-kind-unknown = { $kind } bukan jenis pertanyaan
problem-journey-builder-slug = { $value } harus 1 sampai 40 karakter a-z, 0-9, _ dan -
problem-journey-builder-date = { $value } harus berupa tanggal, TTTT-BB-HH

## Perintah ponsel yang tidak dapat dijalankan (pemeriksaan fieldops_sync)
problem-command-field = `{ $field }` { $problem }
problem-command-latitude = harus berupa lintang, dari -90 sampai 90
problem-command-longitude = harus berupa bujur, dari -180 sampai 180
problem-command-accuracy = harus berupa angka terhingga, 0 atau lebih
problem-command-extra-days = harus 1 sampai 30 hari
problem-command-score = harus 1 sampai 5
problem-command-token = harus 1 sampai 512 karakter ASCII
problem-command-too-long = terlalu panjang
problem-command-one-line = harus satu baris
problem-command-category = harus berupa kode kategori (a-z, 0-9, _)
problem-command-amount = harus lebih dari nol dan paling banyak 10^15
problem-command-sha256 = harus 64 digit heksadesimal huruf kecil
problem-command-version = harus 1 atau lebih (versi dimulai dari 1)
problem-command-too-many-answers = jawabannya lebih banyak daripada pertanyaan journey
