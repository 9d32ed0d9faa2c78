using SkiaSharp;

namespace SrMobile.Engine.Imaging;

/// <summary>Reads PNG, JPEG, BMP and WebP into 8-bit RGB (or gray) pixels and writes PNG, through SkiaSharp.</summary>
public static class ImageFile
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    /// <summary>64 Mpx: four times an 8K frame; a DIV2K photo is about 2 Mpx.</summary>
    public const long DefaultMaxPixels = 64_000_000;

    /// <summary>The configuration key the silo sets <see cref="MaxPixels"/> from.</summary>
    public const string MaxPixelsKey = "SrMobile:Limits:MaxImagePixels";

    /// <summary>
    /// The most pixels an image's header may declare (<c>SrMobile:Limits:MaxImagePixels</c> on a silo). A PNG of a few
    /// hundred bytes can declare 20000×20000, and decoding it would allocate 1.6 GB; the header is checked first.
    /// </summary>
    public static long MaxPixels { get; set; } = DefaultMaxPixels;

    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>The image files directly inside <paramref name="folder"/>, sorted by name.</summary>
    public static IReadOnlyList<string> ListImages(string folder)
    {
        if (!Directory.Exists(folder))
            throw new BadInputException($"{folder}: image folder does not exist");
        return Directory.EnumerateFiles(folder)
            .Where(HasImageExtension)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public static Image8 Read(string path, long? maxPixels = null)
    {
        return Decode(InputFile.ReadBytes(path, "image file"), path, maxPixels);
    }

    /// <summary>
    /// Decodes an encoded image; <paramref name="name"/> is used in error messages. An image whose header declares
    /// more than <paramref name="maxPixels"/> (default <see cref="MaxPixels"/>) is refused before any pixel buffer exists.
    /// </summary>
    public static Image8 Decode(byte[] encoded, string name, long? maxPixels = null)
    {
        if (encoded.Length == 0)
            throw new BadInputException($"{name}: image file is empty");
        using var stream = new SKMemoryStream(encoded);
        using var codec = SKCodec.Create(stream, out var createResult);
        if (codec is null)
            throw new BadInputException($"{name}: not a readable PNG, JPEG, BMP or WebP image ({createResult})");

        var info = codec.Info;
        var limit = maxPixels ?? MaxPixels;
        if ((long)info.Width * info.Height > limit)
            throw new BadInputException($"{name}: the image is {info.Width}x{info.Height} ({(long)info.Width * info.Height:N0} pixels), more than the limit of {limit:N0} pixels ({MaxPixelsKey})");
        var gray = info.ColorType == SKColorType.Gray8;
        // No colour space on the target: pixels are taken as stored, never colour-managed.
        var target = new SKImageInfo(info.Width, info.Height, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var decoded = new byte[target.BytesSize];
        unsafe
        {
            fixed (byte* pointer = decoded)
            {
                var result = codec.GetPixels(target, (IntPtr)pointer);
                if (result != SKCodecResult.Success)
                    throw new BadInputException($"{name}: image data is corrupt or truncated ({result})");
            }
        }

        if (gray)
            return new Image8(info.Width, info.Height, 1, decoded);
        var rgb = new byte[info.Width * info.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = decoded[j];
            rgb[i + 1] = decoded[j + 1];
            rgb[i + 2] = decoded[j + 2];
        }
        return new Image8(info.Width, info.Height, 3, rgb);
    }

    /// <summary>Encodes as PNG (lossless) and writes through a temporary file, so a crash never leaves half a file.</summary>
    public static void WritePng(Image8 image, string path)
    {
        var encoded = EncodePng(image);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temporary, encoded);
        File.Move(temporary, path, overwrite: true);
    }

    public static byte[] EncodePng(Image8 image) => Encode(image, SKEncodedImageFormat.Png, 100);

    public static byte[] Encode(Image8 image, SKEncodedImageFormat format, int quality)
    {
        var info = new SKImageInfo(image.Width, image.Height, image.IsGray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        byte[] pixels;
        if (image.IsGray)
        {
            pixels = image.Pixels;
        }
        else
        {
            pixels = new byte[image.Width * image.Height * 4];
            for (int i = 0, j = 0; i < image.Pixels.Length; i += 3, j += 4)
            {
                pixels[j] = image.Pixels[i];
                pixels[j + 1] = image.Pixels[i + 1];
                pixels[j + 2] = image.Pixels[i + 2];
                pixels[j + 3] = 255;
            }
        }
        using var bitmap = new SKBitmap();
        unsafe
        {
            fixed (byte* pointer = pixels)
            {
                bitmap.InstallPixels(info, (IntPtr)pointer, info.RowBytes);
                using var encoded = bitmap.Encode(format, quality)
                    ?? throw new InvalidOperationException($"SkiaSharp cannot encode {format}");
                return encoded.ToArray();
            }
        }
    }
}
