namespace SrMobile.Engine.Imaging;

/// <summary>
/// An 8-bit image, interleaved (row-major, channel last). Channels is 3 (RGB) or 1 (gray, kept as is:
/// the SR tables compare single-channel images on their raw values, e.g. Set14 <c>bridge</c>).
/// </summary>
public sealed class Image8
{
    public Image8(int width, int height, int channels, byte[]? pixels = null)
    {
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be at least 1x1");
        if (channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(channels), $"channels must be 1 or 3, not {channels}");
        pixels ??= new byte[checked(width * height * channels)];
        if (pixels.Length != width * height * channels)
            throw new ArgumentException($"{pixels.Length} bytes do not make a {width}x{height}x{channels} image", nameof(pixels));
        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }
    public bool IsGray => Channels == 1;

    public byte this[int y, int x, int c]
    {
        get => Pixels[((y * Width) + x) * Channels + c];
        set => Pixels[((y * Width) + x) * Channels + c] = value;
    }

    public override string ToString() => $"{Width}x{Height}x{Channels}";

    /// <summary>The image with three channels: gray is repeated, RGB is returned as is.</summary>
    public Image8 ToRgb()
    {
        if (Channels == 3)
            return this;
        var rgb = new byte[Pixels.Length * 3];
        for (var i = 0; i < Pixels.Length; i++)
            rgb[3 * i] = rgb[(3 * i) + 1] = rgb[(3 * i) + 2] = Pixels[i];
        return new Image8(Width, Height, 3, rgb);
    }

    /// <summary>The rectangle [x, x+width) × [y, y+height) as a new image.</summary>
    public Image8 Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > Width || y + height > Height)
            throw new ArgumentOutOfRangeException(nameof(x), $"crop {width}x{height}+{x}+{y} is outside the {Width}x{Height} image");
        var result = new Image8(width, height, Channels);
        var rowBytes = width * Channels;
        for (var row = 0; row < height; row++)
            Array.Copy(Pixels, (((y + row) * Width) + x) * Channels, result.Pixels, row * rowBytes, rowBytes);
        return result;
    }

    /// <summary>Keeps the top-left rows and columns that are a multiple of <paramref name="scale"/> (modcrop).</summary>
    public Image8 ModCrop(int scale)
    {
        var width = Width - (Width % scale);
        var height = Height - (Height % scale);
        if (width < 1 || height < 1)
            throw new ArgumentOutOfRangeException(nameof(scale), $"a {Width}x{Height} image is smaller than scale {scale}");
        return width == Width && height == Height ? this : Crop(0, 0, width, height);
    }
}
