namespace SrMobile.Engine.Imaging;

/// <summary>
/// MATLAB's <c>imresize(img, scale, 'bicubic')</c>, the degradation every SR table uses; no package has it.
/// Keys' cubic (a = −0.5), kernel stretched by 1/scale when shrinking (antialiasing), symmetric padding,
/// height first then width, float between the passes, round (half away from zero) and clip to uint8 at the end.
/// </summary>
public static class MatlabResize
{
    private const double KernelWidth = 4.0;

    /// <summary>Resizes by <paramref name="scale"/> (e.g. 1/3 to make LR, 3 to enlarge); output side = ceil(side · scale).</summary>
    public static Image8 Resize(Image8 image, double scale)
    {
        if (!(scale > 0) || double.IsInfinity(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), $"resize scale must be positive, not {scale}");
        var outHeight = OutputLength(image.Height, scale);
        var outWidth = OutputLength(image.Width, scale);
        var channels = image.Channels;

        // Height pass: (H × W × C) bytes → (outH × W × C) doubles.
        var rows = Contributions.For(image.Height, outHeight, scale);
        var intermediate = new double[outHeight * image.Width * channels];
        var rowStride = image.Width * channels;
        for (var y = 0; y < outHeight; y++)
        {
            var target = y * rowStride;
            for (var t = 0; t < rows.Taps; t++)
            {
                var weight = rows.Weights[(y * rows.Taps) + t];
                if (weight == 0)
                    continue;
                var source = rows.Indices[(y * rows.Taps) + t] * rowStride;
                for (var i = 0; i < rowStride; i++)
                    intermediate[target + i] += weight * image.Pixels[source + i];
            }
        }

        // Width pass: (outH × W × C) doubles → (outH × outW × C) bytes.
        var columns = Contributions.For(image.Width, outWidth, scale);
        var result = new Image8(outWidth, outHeight, channels);
        Parallel.For(0, outHeight, y =>
        {
            var rowStart = y * rowStride;
            for (var x = 0; x < outWidth; x++)
            {
                for (var c = 0; c < channels; c++)
                {
                    double sum = 0;
                    for (var t = 0; t < columns.Taps; t++)
                    {
                        var k = (x * columns.Taps) + t;
                        sum += columns.Weights[k] * intermediate[rowStart + (columns.Indices[k] * channels) + c];
                    }
                    result.Pixels[(((y * outWidth) + x) * channels) + c] = ToByte(sum);
                }
            }
        });
        return result;
    }

    /// <summary>LR = imresize(HR, 1/s): the bicubic degradation of an HR image whose sides are multiples of s.</summary>
    public static Image8 Downscale(Image8 highResolution, int scale) => Resize(highResolution, 1.0 / scale);

    /// <summary>SR = imresize(LR, s): the bicubic baseline.</summary>
    public static Image8 Upscale(Image8 lowResolution, int scale) => Resize(lowResolution, scale);

    public static int OutputLength(int inputLength, double scale) =>
        // MATLAB: ceil(scale · size). A tiny tolerance keeps 1/3 · 249 = 83 from becoming 84 through rounding.
        (int)Math.Ceiling((inputLength * scale) - 1e-9);

    public static byte ToByte(double value)
    {
        var rounded = Math.Round(value, MidpointRounding.AwayFromZero);
        return rounded <= 0 ? (byte)0 : rounded >= 255 ? (byte)255 : (byte)rounded;
    }

    private static double Cubic(double x)
    {
        var absX = Math.Abs(x);
        var absX2 = absX * absX;
        var absX3 = absX2 * absX;
        if (absX <= 1)
            return (1.5 * absX3) - (2.5 * absX2) + 1;
        if (absX <= 2)
            return (-0.5 * absX3) + (2.5 * absX2) - (4 * absX) + 2;
        return 0;
    }

    /// <summary>Per output index: the input indices (0-based, mirrored) and their normalised weights.</summary>
    private sealed record Contributions(int Taps, int[] Indices, double[] Weights)
    {
        public static Contributions For(int inLength, int outLength, double scale)
        {
            var antialias = scale < 1;
            var width = antialias ? KernelWidth / scale : KernelWidth;
            var taps = (int)Math.Ceiling(width) + 2;
            var indices = new int[outLength * taps];
            var weights = new double[outLength * taps];
            for (var x = 0; x < outLength; x++)
            {
                // 1-based output x maps to input coordinate u (1-based), as in MATLAB's contributions().
                var u = ((x + 1) / scale) + (0.5 * (1 - (1 / scale)));
                var left = (int)Math.Floor(u - (width / 2));
                double sum = 0;
                for (var t = 0; t < taps; t++)
                {
                    var index = left + t;
                    var distance = u - index;
                    var weight = antialias ? scale * Cubic(scale * distance) : Cubic(distance);
                    weights[(x * taps) + t] = weight;
                    indices[(x * taps) + t] = Mirror(index - 1, inLength);
                    sum += weight;
                }
                for (var t = 0; t < taps; t++)
                    weights[(x * taps) + t] /= sum;
            }
            return new Contributions(taps, indices, weights);
        }

        // Symmetric padding: ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...
        private static int Mirror(int index, int length)
        {
            var period = 2 * length;
            var m = ((index % period) + period) % period;
            return m < length ? m : period - 1 - m;
        }
    }
}
