# Problems (office): what the API, the console and sync answer when a request is refused.
# Keys: problem-<subject>-<what>. Bahasa Indonesia.


## Faktur
problem-invoice-too-many-lines = paling banyak { $max } baris
problem-invoice-total-too-large = totalnya terlalu besar
problem-money-negative = tidak boleh negatif
problem-money-zero = harus lebih dari nol
problem-money-too-large = terlalu besar
problem-money-malformed = harus berupa angka dengan paling banyak tiga desimal
problem-invoice-tax-number = harus berisi 17 digit nomor Faktur Pajak
problem-invoice-no-visits = sebutkan paling sedikit satu kunjungan yang sudah selesai
problem-invoice-too-many-visits = paling banyak { $max } kunjungan
problem-invoice-visit-unknown = kunjungan tidak ditemukan
problem-invoice-visit-not-done = belum selesai; hanya kunjungan yang sudah selesai yang ditagihkan
problem-invoice-visit-other-customer = milik pelanggan yang berbeda dari kunjungan pertama
problem-invoice-visit-invoiced = sudah tercantum di faktur lain
problem-invoice-visits-different-tickets = kunjungan-kunjungan ini berasal dari tiket yang berbeda
problem-invoice-lines-invalid = tidak valid
problem-invoice-visits-required = wajib diisi
problem-invoice-visit-taken = salah satu kunjungan sudah tercantum di faktur lain
problem-invoice-not-sent = hanya faktur yang sudah dikirim ke pelanggan yang dikoreksi dengan nota kredit
problem-invoice-locked =
    faktur berstatus { $status ->
        [draft] draf
        [pending_approval] menunggu persetujuan
        [approved] disetujui
        [sent] terkirim
        [payment_submitted] bukti bayar masuk
        [paid] lunas
        [void] batal
       *[other] { $status }
    }; hanya draf yang bisa diubah (faktur yang sudah dikirim dikoreksi dengan nota kredit)
problem-invoice-version-mismatch = faktur sudah berubah sejak Anda membukanya; muat ulang lalu ubah lagi
problem-invoice-no-lines = faktur memerlukan paling sedikit satu baris dan total di atas nol
problem-invoice-approver-is-drafter = yang menyusun atau mengubah faktur tidak boleh menyetujuinya; minta penyetuju sales lain
problem-invoice-nothing-due = tidak ada tagihan tersisa pada faktur ini
problem-invoice-payments-unchecked = ada pembayaran yang menunggu dicek; verifikasi atau tolak dulu sebelum menghapusbukukan sisanya
problem-invoice-credit-exceeds = nota kredit tidak boleh melebihi faktur: { $credited } dari { $total } sudah dikreditkan
problem-invoice-cannot-become =
    faktur berstatus { $status ->
        [draft] draf
        [pending_approval] menunggu persetujuan
        [approved] disetujui
        [sent] terkirim
        [payment_submitted] bukti bayar masuk
        [paid] lunas
        [void] batal
       *[other] { $status }
    } tidak bisa diubah menjadi { $to ->
        [draft] draf
        [pending_approval] menunggu persetujuan
        [approved] disetujui
        [sent] terkirim
        [payment_submitted] bukti bayar masuk
        [paid] lunas
        [void] batal
       *[other] { $to }
    }
problem-invoice-pdf-not-approved =
    faktur berstatus { $status ->
        [draft] draf
        [pending_approval] menunggu persetujuan
        [approved] disetujui
        [sent] terkirim
        [payment_submitted] bukti bayar masuk
        [paid] lunas
        [void] batal
       *[other] { $status }
    }; hanya faktur yang sudah disetujui yang dikirim

## Pembayaran
problem-payment-amount-positive = harus lebih dari nol
problem-payment-amount-over-due = melebihi sisa tagihan { $open } (tagihan dikurangi pembayaran yang sedang dicek)
problem-payment-proof-format = harus berupa SHA-256: 64 digit heksadesimal
problem-payment-proof-not-uploaded = bukan berkas yang Anda unggah; unggah bukti transfer terlebih dahulu
problem-payment-proof-required = lampirkan foto bukti transfer
problem-payment-reference-required = isi referensi bank atau lampirkan bukti transfer
problem-payment-exists = pembayaran dengan id ini sudah ada
problem-payment-checked =
    pembayaran ini sudah { $status ->
        [verified] diverifikasi
        [rejected] ditolak
        [submitted] diajukan
       *[other] { $status }
    }
problem-payment-exceeds-due = pembayaran ini melebihi sisa tagihan; tolak, atau koreksi fakturnya terlebih dahulu

## Penilaian
problem-rating-score-range = harus antara 1 dan 5
problem-rating-link-invalid = tautan penilaian ini tidak valid
problem-rating-already-rated = ini sudah dinilai
problem-rating-link-expired = tautan penilaian ini sudah kedaluwarsa

## Akun
problem-sign-in-account-inactive = akun ini tidak aktif; minta CS untuk memulihkannya
problem-phone-code-throttled = terlalu banyak permintaan kode verifikasi; coba lagi dalam { $minutes } menit
problem-registration-code-wrong = salah, kedaluwarsa, atau sudah dipakai; minta kode baru
problem-customer-merge-self = harus pelanggan lain
problem-customer-merge-unknown = pelanggan tidak ditemukan
problem-customer-merged-already = pelanggan ini sudah digabungkan
problem-customer-merge-target-merged = sudah digabungkan ke pelanggan lain
problem-customer-both-have-accounts = kedua pelanggan punya akun aplikasi; satu pelanggan hanya boleh punya satu
problem-department-lead-not-staff = harus anggota staf
problem-staff-customer-role = pelanggan mendaftar melalui /api/v1/auth/register
problem-staff-customer-role-change = peran akun pelanggan tidak bisa diubah
problem-staff-last-admin = admin aktif terakhir tidak bisa diturunkan perannya
problem-staff-deactivate-self = Anda tidak bisa menonaktifkan akun Anda sendiri
problem-staff-own-password = ubah kata sandi Anda sendiri melalui POST /api/v1/me/password
problem-staff-unknown-departments = departemen tidak dikenal: { $ids }

## Pengaturan
problem-settings-timezone = harus zona waktu IANA, misalnya Asia/Jakarta
problem-settings-working-days = harus hari 1 (Senin) sampai 7 (Minggu), paling sedikit satu
problem-settings-time-format = harus berformat HH:MM
problem-settings-day-end-order = harus setelah jam mulai kerja (day_start)
problem-settings-holiday-format = harus berupa tanggal, YYYY-MM-DD
problem-settings-response-range = harus antara 1 dan 525600
problem-settings-resolution-range = harus antara 1 dan 525600 dan tidak kurang dari target respons
problem-settings-rating-delay = harus antara 0 dan 10080 (satu minggu)
problem-settings-template-name = harus berupa nama template: huruf kecil, angka, dan _
problem-settings-template-language = harus berupa kode bahasa, misalnya id atau en_US

## Peringatan
problem-alert-not-open = tidak ada peringatan terbuka dengan id ini

## Mendaftar di aplikasi
problem-register-customer-inactive = data pelanggan untuk nomor telepon ini tidak aktif; minta CS untuk memulihkannya
