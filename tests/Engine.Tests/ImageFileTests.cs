using SkiaSharp;
using SrMobile.Engine.Imaging;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

public class ImageFileTests
{
    private static Image8 Gradient(int width, int height, int channels)
    {
        var image = new Image8(width, height, channels);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                for (var c = 0; c < channels; c++)
                    image[y, x, c] = (byte)((x * 7) + (y * 3) + (c * 50));
        return image;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void Png_round_trips_exactly_and_keeps_gray_gray(int channels)
    {
        using var work = TestData.NewTemporaryFolder();
        var image = Gradient(17, 9, channels);
        ImageFile.WritePng(image, work.File("a.png"));
        var read = ImageFile.Read(work.File("a.png"));
        Assert.Equal(channels, read.Channels);
        Assert.Equal(image.Pixels, read.Pixels);
    }

    [Fact]
    public void Webp_lossless_round_trips_and_jpeg_decodes_close()
    {
        var image = Gradient(16, 12, 3); // smooth, no wrap-around: JPEG's chroma subsampling stays small
        var webp = ImageFile.Decode(ImageFile.Encode(image, SKEncodedImageFormat.Webp, 100), "a.webp");
        Assert.Equal((16, 12, 3), (webp.Width, webp.Height, webp.Channels));
        var jpeg = ImageFile.Decode(ImageFile.Encode(image, SKEncodedImageFormat.Jpeg, 95), "a.jpg");
        Assert.Equal((16, 12), (jpeg.Width, jpeg.Height));
        var meanError = image.Pixels.Zip(jpeg.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanError < 4, $"JPEG q95 mean error {meanError}");
    }

    [Fact]
    public void Bmp_24_bit_decodes_exactly()
    {
        var image = Gradient(5, 3, 3);
        var decoded = ImageFile.Decode(Bmp24(image), "a.bmp");
        Assert.Equal(image.Pixels, decoded.Pixels);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-1)]
    public void Empty_corrupt_and_truncated_files_name_the_file(int keep)
    {
        using var work = TestData.NewTemporaryFolder();
        var png = ImageFile.EncodePng(Gradient(64, 64, 3));
        var bytes = keep switch
        {
            0 => [],
            -1 => png[..(png.Length / 2)],
            _ => "not an image at all"u8.ToArray(),
        };
        File.WriteAllBytes(work.File("broken.png"), bytes);
        var error = Assert.Throws<BadInputException>(() => ImageFile.Read(work.File("broken.png")));
        Assert.StartsWith(work.File("broken.png") + ":", error.Message);
    }

    [Fact]
    public void Modcrop_keeps_the_top_left_multiple()
    {
        var image = Gradient(10, 8, 3);
        var cropped = image.ModCrop(3);
        Assert.Equal((9, 6), (cropped.Width, cropped.Height));
        Assert.Equal(image[5, 8, 2], cropped[5, 8, 2]);
    }

    // A bottom-up 24-bit BMP: BITMAPFILEHEADER + BITMAPINFOHEADER, BGR rows padded to 4 bytes.
    private static byte[] Bmp24(Image8 image)
    {
        var rowSize = ((image.Width * 3) + 3) & ~3;
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write((byte)'B');
        writer.Write((byte)'M');
        writer.Write(54 + (rowSize * image.Height));
        writer.Write(0);
        writer.Write(54);
        writer.Write(40);
        writer.Write(image.Width);
        writer.Write(image.Height);
        writer.Write((short)1);
        writer.Write((short)24);
        writer.Write(0);
        writer.Write(rowSize * image.Height);
        writer.Write(2835);
        writer.Write(2835);
        writer.Write(0);
        writer.Write(0);
        for (var y = image.Height - 1; y >= 0; y--)
        {
            for (var x = 0; x < image.Width; x++)
            {
                writer.Write(image[y, x, 2]);
                writer.Write(image[y, x, 1]);
                writer.Write(image[y, x, 0]);
            }
            for (var p = image.Width * 3; p < rowSize; p++)
                writer.Write((byte)0);
        }
        return stream.ToArray();
    }

    /// <summary>A PNG of a few hundred bytes whose IHDR declares <paramref name="width"/>×<paramref name="height"/> RGB (valid CRCs; its IDAT holds one row).</summary>
    private static byte[] PngDeclaring(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        Chunk(png, "IHDR", header);
        using (var data = new MemoryStream())
        {
            using (var zlib = new System.IO.Compression.ZLibStream(data, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
                zlib.Write(new byte[1 + (3 * width)]);
            Chunk(png, "IDAT", data.ToArray());
        }
        Chunk(png, "IEND", []);
        return png.ToArray();

        static void Chunk(Stream stream, string type, byte[] body)
        {
            var bytes = new byte[12 + body.Length];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, body.Length);
            System.Text.Encoding.ASCII.GetBytes(type, bytes.AsSpan(4));
            body.CopyTo(bytes, 8);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8 + body.Length), Crc32(bytes.AsSpan(4, 4 + body.Length)));
            stream.Write(bytes);
        }
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void An_image_declaring_more_pixels_than_the_limit_is_refused_before_its_pixels_are_allocated()
    {
        using var work = TestData.NewTemporaryFolder();
        var path = work.File("huge.png");
        File.WriteAllBytes(path, PngDeclaring(20_000, 20_000));
        Assert.True(new FileInfo(path).Length < 1_000);

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<BadInputException>(() => ImageFile.Read(path));
        // Decoding would have allocated 1.6 GB (RGBA) before finding the data short; the refusal allocates next to nothing.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1_000_000);
        Assert.Equal($"{path}: the image is 20000x20000 (400,000,000 pixels), more than the limit of 64,000,000 pixels (SrMobile:Limits:MaxImagePixels)", error.Message);
    }

    [Fact]
    public void The_pixel_limit_is_the_declared_width_times_height()
    {
        var png = ImageFile.EncodePng(Gradient(17, 9, 3));
        Assert.Equal(17, ImageFile.Decode(png, "a.png", maxPixels: 153).Width);
        var error = Assert.Throws<BadInputException>(() => ImageFile.Decode(png, "a.png", maxPixels: 152));
        Assert.Contains("a.png: the image is 17x9 (153 pixels), more than the limit of 152 pixels", error.Message);
        // A crafted header at the limit gets past the check and fails on its short data instead.
        var atLimit = Assert.Throws<BadInputException>(() => ImageFile.Decode(PngDeclaring(100, 100), "short.png", maxPixels: 10_000));
        Assert.Contains("short.png: image data is corrupt or truncated", atLimit.Message);
    }
}
