//! The device photo pipeline: bytes from the camera or the gallery in, a
//! normalised JPEG, its thumbnail and their SHA-256 names out.
//!
//! [`normalise`] is the whole pipeline and the API the upload queue and the FFI
//! build on:
//!
//! 1. **Bounds first.** The input size is checked before anything is parsed; the
//!    pixel count is read from the header and checked before a single pixel is
//!    decoded, and the decoder runs under [`image::Limits`], so a 50 KB PNG that
//!    claims 100 000 × 100 000 pixels (a decompression bomb) costs nothing.
//! 2. **Sniffed, not named.** The format comes from the bytes (JPEG, PNG, WebP);
//!    a file name or a MIME type is never trusted.
//! 3. **Orientation applied, metadata stripped.** The EXIF orientation is
//!    applied to the pixels; the output is a fresh JPEG with no EXIF, XMP, ICC
//!    or GPS data (re-encoding writes none), so a photo never leaks where it was
//!    taken.
//! 4. **Resized.** The longest edge becomes at most [`PhotoOptions::max_edge`]
//!    (1600 px) with a Lanczos3 filter (SIMD, `fast_image_resize`); smaller
//!    images are not enlarged. A JPEG at least twice that size is decoded at
//!    a reduced DCT scale first (1/2 or 1/4, the larger reduction that still
//!    covers the output): the inverse DCT of each 8×8 block yields 4×4 or
//!    2×2 pixels for less work than the full block, so a 12 MP photo is
//!    decoded as 3 MP and the resize reads a quarter of the pixels. The
//!    resize runs before the rotation (the longest edge does not change
//!    under rotation), so only the small image is rotated.
//! 5. **Re-encoded** as baseline JPEG, quality 80, chroma at full resolution
//!    (4:4:4), by a SIMD encoder (`jpeg-encoder`, AVX2 picked at run time);
//!    a 320 px thumbnail is made from the resized image, not from the
//!    original.
//! 6. **Named** by the SHA-256 of the bytes, lowercase hex, as the server's
//!    content-addressed storage and the photo document expect.
//!
//! It is pure and synchronous: call it off the UI thread. Errors are typed
//! ([`PhotoError`]) so the app can say "this file is not a photo" or "too
//! large" rather than "something failed".

use std::io::Cursor;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

/// What the pipeline produces for one photo.
#[derive(Clone, PartialEq, Eq)]
pub struct NormalisedPhoto {
    /// The normalised JPEG.
    pub image: Vec<u8>,
    /// SHA-256 of `image`, 64 lowercase hex digits.
    pub sha256: String,
    /// Width of `image` in pixels, after orientation.
    pub width: u32,
    /// Height of `image` in pixels, after orientation.
    pub height: u32,
    /// The thumbnail JPEG.
    pub thumbnail: Vec<u8>,
    /// SHA-256 of `thumbnail`.
    pub thumbnail_sha256: String,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    /// The format the input was in.
    pub source_format: SourceFormat,
}

impl std::fmt::Debug for NormalisedPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NormalisedPhoto")
            .field("sha256", &self.sha256)
            .field("bytes", &self.image.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .field("thumbnail_sha256", &self.thumbnail_sha256)
            .field("thumbnail_bytes", &self.thumbnail.len())
            .field("source_format", &self.source_format)
            .finish()
    }
}

impl NormalisedPhoto {
    /// The MIME type of both `image` and `thumbnail`.
    pub const CONTENT_TYPE: &'static str = "image/jpeg";
}

/// The input formats the pipeline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    WebP,
}

/// Bounds and output settings. [`Default`] is what the app uses.
#[derive(Debug, Clone)]
pub struct PhotoOptions {
    /// Inputs larger than this are refused before parsing (default 40 MiB).
    pub max_input_bytes: usize,
    /// Inputs with more pixels than this are refused before decoding
    /// (default 64 megapixels; phones shoot 12–50).
    pub max_pixels: u64,
    /// Longest edge of the normalised image (default 1600).
    pub max_edge: u32,
    /// Longest edge of the thumbnail (default 320).
    pub thumbnail_edge: u32,
    /// JPEG quality of the normalised image, 1–100 (default 80).
    pub quality: u8,
    /// JPEG quality of the thumbnail (default 75).
    pub thumbnail_quality: u8,
    /// Decode a large JPEG at a reduced DCT scale before the resize
    /// (default true; false decodes every pixel, as a reference to compare
    /// the output's quality against).
    pub scaled_jpeg_decode: bool,
}

impl Default for PhotoOptions {
    fn default() -> Self {
        Self {
            max_input_bytes: 40 * 1024 * 1024,
            max_pixels: 64_000_000,
            max_edge: 1600,
            thumbnail_edge: 320,
            quality: 80,
            thumbnail_quality: 75,
            scaled_jpeg_decode: true,
        }
    }
}

/// Why a photo could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("the image is {width}×{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("not a JPEG, PNG or WebP image")]
    UnsupportedFormat,
    #[error("the image is damaged or incomplete: {0}")]
    Corrupt(String),
    #[error("the image could not be processed: {0}")]
    Processing(String),
}

/// Normalises a photo with the default options. See the module docs.
pub fn normalise(bytes: &[u8]) -> Result<NormalisedPhoto, PhotoError> {
    normalise_with(bytes, &PhotoOptions::default())
}

/// Normalises a photo with `options`. See the module docs.
pub fn normalise_with(bytes: &[u8], options: &PhotoOptions) -> Result<NormalisedPhoto, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > options.max_input_bytes {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            max: options.max_input_bytes,
        });
    }
    let (source_format, mut decoder) = open(bytes, options)?;
    if source_format == SourceFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(PhotoError::Corrupt("the JPEG is cut short".into()));
    }
    let orientation = decoder
        .orientation()
        .map_err(|e| PhotoError::Corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    let scaled = match source_format {
        SourceFormat::Jpeg if options.scaled_jpeg_decode => {
            decode_jpeg_scaled(bytes, (width, height), options)
        }
        _ => None,
    };
    let (rgb, picture) = match scaled {
        Some(scaled) => scaled,
        None => {
            let rgb =
                flatten_to_rgb(DynamicImage::from_decoder(decoder).map_err(corrupt_or_limit)?);
            (rgb, (f64::from(width), f64::from(height)))
        }
    };

    // Resize in the source orientation (the longest edge is the same either
    // way), then rotate the small image.
    // The size comes from the source's own, whatever scale it was decoded
    // at, so both decodes give the same dimensions.
    let size = fit_within(width, height, options.max_edge);
    let mut resized = DynamicImage::ImageRgb8(resize_to(rgb, picture, size)?);
    resized.apply_orientation(orientation);
    let resized = resized.into_rgb8();
    let thumbnail = shrink(resized.clone(), options.thumbnail_edge)?;

    let image = encode_jpeg(&resized, options.quality)?;
    let thumbnail_bytes = encode_jpeg(&thumbnail, options.thumbnail_quality)?;
    Ok(NormalisedPhoto {
        sha256: sha256_hex(&image),
        image,
        width: resized.width(),
        height: resized.height(),
        thumbnail_sha256: sha256_hex(&thumbnail_bytes),
        thumbnail: thumbnail_bytes,
        thumbnail_width: thumbnail.width(),
        thumbnail_height: thumbnail.height(),
        source_format,
    })
}

/// Whether a JPEG is complete: the end-of-image marker follows the first
/// scan. Entropy-coded data never contains `FF D9` (a data `FF` is stuffed as
/// `FF 00`), so a file cut anywhere after its header lacks it, though lenient
/// decoders fill the missing rows with grey instead of failing. The header's
/// segments are walked to find the scan, since an EXIF segment may hold a
/// whole thumbnail JPEG, scan and end marker included.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut at = 2;
    let scan = loop {
        let (Some(0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        match marker {
            // A fill byte before a marker.
            0xFF => at += 1,
            0xDA => break at,
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => at += 2,
            _ => {
                let Some(&[hi, lo]) = bytes.get(at + 2..at + 4) else {
                    return false;
                };
                at += 2 + usize::from(u16::from_be_bytes([hi, lo]));
            }
        }
    };
    bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Sniffs the format, reads the header and checks the pixel count, without
/// decoding any pixels.
fn open<'a>(
    bytes: &'a [u8],
    options: &PhotoOptions,
) -> Result<(SourceFormat, impl ImageDecoder + 'a), PhotoError> {
    let source_format = match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => SourceFormat::Jpeg,
        Ok(ImageFormat::Png) => SourceFormat::Png,
        Ok(ImageFormat::WebP) => SourceFormat::WebP,
        _ => return Err(PhotoError::UnsupportedFormat),
    };
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(match source_format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::WebP => ImageFormat::WebP,
    });
    let mut limits = Limits::default();
    // Decoded RGBA at the pixel limit, plus the decoder's working memory.
    limits.max_alloc = Some(
        options
            .max_pixels
            .saturating_mul(4)
            .saturating_add(64 << 20),
    );
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(corrupt_or_limit)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt("the image has no pixels".into()));
    }
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max: options.max_pixels,
        });
    }
    Ok((source_format, decoder))
}

/// A JPEG of `size` decoded at the smallest DCT scale (1/4 or 1/2) that
/// still covers the output of `options.max_edge` on both axes, with the
/// extent of the picture in its pixels: a scaled decode rounds a partial
/// 8×8 block at the right and bottom edges up to a whole pixel, which holds
/// less than a pixel's worth of the picture. `None` when no reduction
/// applies (the JPEG is less than twice the output) or this decoder cannot
/// produce RGB from it (CMYK, 16-bit, a damaged scan): the full-size decode
/// then decides, so what is refused and why does not change.
fn decode_jpeg_scaled(
    bytes: &[u8],
    (width, height): (u32, u32),
    options: &PhotoOptions,
) -> Option<(RgbImage, (f64, f64))> {
    // The largest reduction whose picture still covers the output on both
    // axes, at most a quarter: at 1/8 the decoder keeps only each block's
    // average (a box filter, which aliases); 1/4 keeps its lowest 4×4
    // frequencies, and the Lanczos resize after it does the rest.
    let (w, h) = fit_within(width, height, options.max_edge);
    let divisor = [4, 2]
        .into_iter()
        .find(|d| width >= w.saturating_mul(*d) && height >= h.saturating_mul(*d))?;
    let (out_w, out_h) = (width.div_ceil(divisor), height.div_ceil(divisor));
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // Asking for exactly that size makes the decoder pick that scale (the
    // smallest it has that reaches the size); anything else is refused.
    let chosen = decoder
        .scale(u16::try_from(out_w).ok()?, u16::try_from(out_h).ok()?)
        .ok()?;
    if (u32::from(chosen.0), u32::from(chosen.1)) != (out_w, out_h) {
        return None;
    }
    let pixels = decoder.decode().ok()?;
    let rgb = match decoder.info()?.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(out_w, out_h, pixels)?,
        jpeg_decoder::PixelFormat::L8 => {
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(out_w, out_h, pixels)?).into_rgb8()
        }
        _ => return None,
    };
    let picture = (
        f64::from(width) / f64::from(divisor),
        f64::from(height) / f64::from(divisor),
    );
    Some((rgb, picture))
}

fn corrupt_or_limit(err: image::ImageError) -> PhotoError {
    match err {
        image::ImageError::Limits(e) => PhotoError::Processing(e.to_string()),
        image::ImageError::Unsupported(_) => PhotoError::UnsupportedFormat,
        other => PhotoError::Corrupt(other.to_string()),
    }
}

/// RGB8, with any transparency composited onto white (a transparent PNG
/// would otherwise turn black in a JPEG).
fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for px in rgba.pixels() {
        let [r, g, b, a] = px.0;
        let a = u16::from(a);
        for c in [r, g, b] {
            // c·a + 255·(255 − a), divided by 255 with rounding.
            let v = (u16::from(c) * a + 255 * (255 - a) + 127) / 255;
            out.push(v as u8);
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_default()
}

/// The size that fits `(width, height)` within `max_edge`, keeping the aspect
/// ratio; never larger than the input and never zero.
pub fn fit_within(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= max_edge {
        return (width, height);
    }
    let scale = |v: u32| {
        let scaled =
            (u64::from(v) * u64::from(max_edge) + u64::from(longest) / 2) / u64::from(longest);
        (scaled as u32).max(1)
    };
    (scale(width), scale(height))
}

/// Downscales so the longest edge is at most `max_edge` (Lanczos3, SIMD).
fn shrink(image: RgbImage, max_edge: u32) -> Result<RgbImage, PhotoError> {
    let (width, height) = image.dimensions();
    let whole = (f64::from(width), f64::from(height));
    resize_to(image, whole, fit_within(width, height, max_edge))
}

/// Resizes the top-left `picture` (in pixels, possibly fractional) of
/// `image` to exactly `(w, h)` (Lanczos3, SIMD); unchanged when the image
/// is that size already.
fn resize_to(
    image: RgbImage,
    picture: (f64, f64),
    (w, h): (u32, u32),
) -> Result<RgbImage, PhotoError> {
    let (width, height) = image.dimensions();
    if (w, h) == (width, height) {
        return Ok(image);
    }
    let processing = |e: &dyn std::fmt::Display| PhotoError::Processing(e.to_string());
    let src = ImageRef::new(width, height, image.as_raw(), PixelType::U8x3)
        .map_err(|e| processing(&e))?;
    let mut dst = Image::new(w, h, PixelType::U8x3);
    Resizer::new()
        .resize(
            &src,
            &mut dst,
            &ResizeOptions::new()
                .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
                .crop(0.0, 0.0, picture.0, picture.1),
        )
        .map_err(|e| processing(&e))?;
    RgbImage::from_raw(w, h, dst.into_vec())
        .ok_or_else(|| PhotoError::Processing("resized buffer has the wrong size".into()))
}

/// Baseline JPEG at `quality`, chroma at full resolution (4:4:4, as the
/// pipeline always wrote), by a SIMD encoder.
fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let processing = |e: &dyn std::fmt::Display| PhotoError::Processing(e.to_string());
    let (width, height) = image.dimensions();
    let width = u16::try_from(width).map_err(|e| processing(&e))?;
    let height = u16::try_from(height).map_err(|e| processing(&e))?;
    let mut out = Vec::with_capacity(image.as_raw().len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_1_1);
    encoder
        .encode(image.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| processing(&e))?;
    Ok(out)
}

/// Deterministic test photos: used by this crate's tests, the end-to-end tests
/// and the benchmark. Not for production use.
#[doc(hidden)]
pub mod testing {
    use image::codecs::jpeg::JpegEncoder;
    use image::{Rgb, RgbImage};

    /// A photo-like RGB image: smooth gradients with fine deterministic
    /// texture, so JPEG sizes and decode times resemble a camera's.
    pub fn synthetic(width: u32, height: u32, seed: u32) -> RgbImage {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        RgbImage::from_fn(width, height, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state & 0x1f) as u8;
            let r = ((x * 255) / width.max(1)) as u8;
            let g = ((y * 255) / height.max(1)) as u8;
            let b = (((x / 40 + y / 40) % 2) * 120) as u8;
            Rgb([
                r.saturating_add(noise),
                g.saturating_add(noise / 2),
                b.saturating_add(noise),
            ])
        })
    }

    /// Peak signal-to-noise ratio between two images of one size, in dB
    /// over all three channels (infinite when identical): how close the
    /// scaled decode's output stays to the full decode's.
    pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
        assert_eq!(a.dimensions(), b.dimensions(), "PSNR needs one size");
        let squared: f64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        let mse = squared / a.as_raw().len() as f64;
        10.0 * (255.0_f64.powi(2) / mse).log10()
    }

    /// [`synthetic`] encoded as a JPEG at `quality`.
    pub fn synthetic_jpeg(width: u32, height: u32, seed: u32, quality: u8) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&synthetic(width, height, seed))
            .unwrap_or_default();
        out
    }

    /// Inserts an EXIF APP1 segment with `orientation` (1–8) after the SOI of
    /// a JPEG, plus a GPS-looking marker string, as cameras do.
    pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        // TIFF header (little endian), IFD0 with one entry: 0x0112 SHORT 1 = orientation.
        let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
        tiff.extend_from_slice(&0x0112u16.to_le_bytes());
        tiff.extend_from_slice(&3u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS-SECRET-LOCATION");
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let len = (payload.len() + 2) as u16;
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    /// A small PNG whose header declares `width` × `height` grey pixels: a
    /// decompression bomb as far as any size check can tell.
    pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
        chunk(&mut out, b"IHDR", &ihdr);
        // A zlib stream of zeros: a few KB that would inflate to gigabytes.
        let mut idat = vec![0x78, 0x01];
        for _ in 0..64 {
            idat.extend_from_slice(&[0x00, 0xff, 0xff, 0x00, 0x00]);
        }
        chunk(&mut out, b"IDAT", &idat);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = 0xffff_ffffu32;
        for &b in kind.iter().chain(data) {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::testing::{synthetic, synthetic_jpeg, with_exif_orientation};
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{Rgba, RgbaImage};

    fn png(image: &DynamicImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn decode(bytes: &[u8]) -> DynamicImage {
        image::load_from_memory(bytes).unwrap()
    }

    /// Options for a 200 px output, so small inputs reach the scaled decode;
    /// and the same with every pixel decoded, to compare against.
    fn small_outputs() -> (PhotoOptions, PhotoOptions) {
        let small = PhotoOptions {
            max_edge: 200,
            thumbnail_edge: 50,
            ..PhotoOptions::default()
        };
        let full = PhotoOptions {
            scaled_jpeg_decode: false,
            ..small.clone()
        };
        (small, full)
    }

    /// A JPEG at least twice the output is decoded at a reduced DCT scale;
    /// the result has the full decode's size, orientation and (within a
    /// PSNR bound) its pixels.
    #[test]
    fn large_jpegs_are_decoded_at_a_reduced_scale_to_the_same_picture() {
        let (small, full) = small_outputs();
        for (w, h) in [(800, 600), (450, 301), (1601, 900)] {
            let input = with_exif_orientation(&synthetic_jpeg(w, h, 5, 90), 6);
            let scaled = normalise_with(&input, &small).unwrap();
            let reference = normalise_with(&input, &full).unwrap();
            assert_eq!(
                (scaled.width, scaled.height, scaled.thumbnail_width),
                (reference.width, reference.height, reference.thumbnail_width),
                "{w}x{h}"
            );
            assert_eq!(scaled.height.max(scaled.width), 200, "rotated: {w}x{h}");
            assert_ne!(scaled.sha256, reference.sha256, "the scaled decode ran");
            let psnr = testing::psnr(
                &decode(&scaled.image).into_rgb8(),
                &decode(&reference.image).into_rgb8(),
            );
            println!("{w}x{h}: {psnr:.1} dB");
            assert!(psnr > 30.0, "{w}x{h}: {psnr:.1} dB");
        }
        // Greyscale JPEGs take the same path and come out as RGB.
        let grey = DynamicImage::ImageRgb8(synthetic(800, 600, 9)).into_luma8();
        let mut input = Vec::new();
        JpegEncoder::new_with_quality(&mut input, 90)
            .encode_image(&grey)
            .unwrap();
        let scaled = normalise_with(&input, &small).unwrap();
        let reference = normalise_with(&input, &full).unwrap();
        assert_ne!(scaled.sha256, reference.sha256);
        let psnr = testing::psnr(
            &decode(&scaled.image).into_rgb8(),
            &decode(&reference.image).into_rgb8(),
        );
        assert!(psnr > 30.0, "grey: {psnr:.1} dB");
        // Below twice the output, nothing is gained: the full decode runs.
        let input = synthetic_jpeg(399, 300, 5, 90);
        assert_eq!(
            normalise_with(&input, &small).unwrap(),
            normalise_with(&input, &full).unwrap()
        );
    }

    #[test]
    fn large_photos_are_resized_reencoded_and_named() {
        let input = synthetic_jpeg(4000, 3000, 1, 90);
        let out = normalise(&input).unwrap();
        assert_eq!((out.width, out.height), (1600, 1200));
        assert_eq!((out.thumbnail_width, out.thumbnail_height), (320, 240));
        assert_eq!(image::guess_format(&out.image).unwrap(), ImageFormat::Jpeg);
        assert_eq!(decode(&out.image).width(), 1600);
        assert_eq!(decode(&out.thumbnail).width(), 320);
        assert_eq!(out.sha256, sha256_hex(&out.image));
        assert_eq!(out.thumbnail_sha256, sha256_hex(&out.thumbnail));
        assert_eq!(out.sha256.len(), 64);
        assert!(out.image.len() < input.len());
        // Deterministic: the same input gives the same name.
        assert_eq!(normalise(&input).unwrap().sha256, out.sha256);
    }

    #[test]
    fn small_images_are_not_enlarged() {
        let out = normalise(&synthetic_jpeg(200, 100, 2, 90)).unwrap();
        assert_eq!((out.width, out.height), (200, 100));
        assert_eq!((out.thumbnail_width, out.thumbnail_height), (200, 100));
        assert_eq!(fit_within(3000, 4000, 1600), (1200, 1600));
        assert_eq!(fit_within(10_000, 3, 1600), (1600, 1));
    }

    #[test]
    fn exif_orientation_is_applied_and_metadata_stripped() {
        let jpeg = with_exif_orientation(&synthetic_jpeg(400, 200, 3, 90), 6);
        assert!(jpeg.windows(6).any(|w| w == b"Exif\0\0"));
        let out = normalise(&jpeg).unwrap();
        // Orientation 6 is "rotate 90° clockwise": landscape becomes portrait.
        assert_eq!((out.width, out.height), (200, 400));
        assert_eq!((out.thumbnail_width, out.thumbnail_height), (160, 320));
        for bytes in [&out.image, &out.thumbnail] {
            assert!(!bytes.windows(4).any(|w| w == b"Exif"), "EXIF left behind");
            assert!(!bytes.windows(3).any(|w| w == b"GPS"));
            // No APP1 (EXIF/XMP) or APP2 (ICC) segments at all.
            assert!(
                !bytes
                    .windows(2)
                    .any(|w| w == [0xFF, 0xE1] || w == [0xFF, 0xE2])
            );
        }
    }

    #[test]
    fn rotation_moves_the_pixels() {
        // Left half black, right half white; after a 90° clockwise turn the
        // top is black and the bottom is white.
        let img = RgbImage::from_fn(64, 32, |x, _| {
            if x < 32 {
                image::Rgb([0; 3])
            } else {
                image::Rgb([255; 3])
            }
        });
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, 95)
            .encode_image(&img)
            .unwrap();
        let out = normalise(&with_exif_orientation(&jpeg, 6)).unwrap();
        let rotated = decode(&out.image).into_luma8();
        assert_eq!(rotated.dimensions(), (32, 64));
        assert!(rotated.get_pixel(16, 8).0[0] < 40);
        assert!(rotated.get_pixel(16, 56).0[0] > 215);
    }

    #[test]
    fn png_and_webp_inputs_are_accepted_and_transparency_turns_white() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 40, Rgba([0, 0, 0, 0])));
        let out = normalise(&png(&clear)).unwrap();
        assert_eq!(out.source_format, SourceFormat::Png);
        assert!(
            decode(&out.image)
                .into_rgb8()
                .get_pixel(10, 10)
                .0
                .iter()
                .all(|c| *c > 245)
        );

        let mut webp = Vec::new();
        DynamicImage::ImageRgb8(synthetic(64, 48, 4))
            .write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)
            .unwrap();
        let out = normalise(&webp).unwrap();
        assert_eq!(out.source_format, SourceFormat::WebP);
        assert_eq!((out.width, out.height), (64, 48));
    }

    #[test]
    fn non_images_and_damaged_images_are_refused() {
        assert_eq!(normalise(b""), Err(PhotoError::Empty));
        assert_eq!(
            normalise(b"%PDF-1.7 hello"),
            Err(PhotoError::UnsupportedFormat)
        );
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert_eq!(normalise(gif), Err(PhotoError::UnsupportedFormat));

        let jpeg = synthetic_jpeg(300, 200, 5, 90);
        assert!(matches!(
            normalise(&jpeg[..200]),
            Err(PhotoError::Corrupt(_))
        ));
        let png = png(&DynamicImage::ImageRgb8(synthetic(300, 200, 5)));
        assert!(matches!(
            normalise(&png[..png.len() / 2]),
            Err(PhotoError::Corrupt(_))
        ));
        let mut garbage = png.clone();
        for b in &mut garbage[100..] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        assert!(matches!(normalise(&garbage), Err(PhotoError::Corrupt(_))));
    }

    /// A camera's EXIF segment holds a thumbnail JPEG, end marker and all:
    /// the photo cut short is still refused.
    #[test]
    fn a_cut_photo_is_refused_whatever_its_exif_thumbnail_holds() {
        let jpeg = synthetic_jpeg(800, 600, 5, 90);
        let thumbnail = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x00, 0xFF, 0xD9];
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(
            &u16::try_from(2 + 6 + thumbnail.len())
                .unwrap()
                .to_be_bytes(),
        );
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&thumbnail);
        let mut camera = jpeg[..2].to_vec();
        camera.extend_from_slice(&app1);
        camera.extend_from_slice(&jpeg[2..]);
        assert!(jpeg_is_complete(&camera));
        assert!(normalise(&camera).is_ok());
        let cut = &camera[..camera.len() * 2 / 3];
        assert!(!jpeg_is_complete(cut));
        assert!(matches!(normalise(cut), Err(PhotoError::Corrupt(_))));
    }

    /// Damage inside a large JPEG's scan is judged as the full-size decode
    /// judges it: the scaled decode never accepts what it would refuse.
    #[test]
    fn damaged_large_jpegs_are_judged_as_before() {
        let (small, full) = small_outputs();
        let jpeg = synthetic_jpeg(800, 600, 5, 90);
        let scan = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for (from, step) in [(scan + 20, 1), (jpeg.len() / 2, 7), (scan - 40, 3)] {
            let mut damaged = jpeg.clone();
            for b in damaged.iter_mut().skip(from).step_by(step).take(400) {
                *b = b.wrapping_mul(31).wrapping_add(7);
            }
            // Keep the end marker where it was.
            let n = damaged.len();
            damaged[n - 2..].copy_from_slice(&[0xFF, 0xD9]);
            let scaled = normalise_with(&damaged, &small);
            let reference = normalise_with(&damaged, &full);
            assert_eq!(
                scaled.is_err(),
                reference.is_err(),
                "damage at {from}: {scaled:?} against {reference:?}"
            );
        }
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        // A real PNG header declaring 100 000 × 100 000 pixels (10 gigapixels)
        // with a tiny body: refused on the header alone.
        let bomb = super::testing::png_bomb(100_000, 100_000);
        let started = std::time::Instant::now();
        let err = normalise(&bomb).unwrap_err();
        assert!(
            matches!(
                err,
                PhotoError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(100));

        let tight = PhotoOptions {
            max_pixels: 1000,
            ..PhotoOptions::default()
        };
        let err = normalise_with(&synthetic_jpeg(100, 100, 6, 80), &tight).unwrap_err();
        assert!(matches!(err, PhotoError::TooManyPixels { .. }));
        let tiny = PhotoOptions {
            max_input_bytes: 10,
            ..PhotoOptions::default()
        };
        assert!(matches!(
            normalise_with(&synthetic_jpeg(10, 10, 6, 80), &tiny),
            Err(PhotoError::TooLarge { max: 10, .. })
        ));
    }
}
