namespace SrMobile.Engine.Metrics;

/// <summary>
/// SSIM as the SR literature's evaluation code computes it (Wang et al. 2004): 11×11 Gaussian window with
/// σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255, statistics over the "valid" window positions only, mean of the map.
/// </summary>
public static class Ssim
{
    private const int Radius = 5;
    private const double C1 = (0.01 * 255) * (0.01 * 255);
    private const double C2 = (0.03 * 255) * (0.03 * 255);
    private static readonly double[] Kernel = GaussianKernel(11, 1.5);

    public static double Of(Plane a, Plane b)
    {
        if (a.Width != b.Width || a.Height != b.Height)
            throw new ArgumentException($"SSIM of a {a.Width}x{a.Height} plane against a {b.Width}x{b.Height} one");
        if (a.Width < Kernel.Length || a.Height < Kernel.Length)
            throw new ArgumentException($"SSIM needs at least 11x11 pixels, not {a.Width}x{a.Height}");

        var n = a.Values.Length;
        var aa = new double[n];
        var bb = new double[n];
        var ab = new double[n];
        for (var i = 0; i < n; i++)
        {
            aa[i] = a.Values[i] * a.Values[i];
            bb[i] = b.Values[i] * b.Values[i];
            ab[i] = a.Values[i] * b.Values[i];
        }
        var muA = FilterValid(a.Values, a.Width, a.Height);
        var muB = FilterValid(b.Values, a.Width, a.Height);
        var sigmaAA = FilterValid(aa, a.Width, a.Height);
        var sigmaBB = FilterValid(bb, a.Width, a.Height);
        var sigmaAB = FilterValid(ab, a.Width, a.Height);

        double sum = 0;
        for (var i = 0; i < muA.Length; i++)
        {
            var ma = muA[i];
            var mb = muB[i];
            var varA = sigmaAA[i] - (ma * ma);
            var varB = sigmaBB[i] - (mb * mb);
            var cov = sigmaAB[i] - (ma * mb);
            sum += ((2 * ma * mb) + C1) * ((2 * cov) + C2) / (((ma * ma) + (mb * mb) + C1) * (varA + varB + C2));
        }
        return sum / muA.Length;
    }

    // Separable Gaussian filter, keeping only positions where the whole window fits ("valid").
    private static double[] FilterValid(double[] values, int width, int height)
    {
        var outWidth = width - (2 * Radius);
        var outHeight = height - (2 * Radius);
        var horizontal = new double[height * outWidth];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < outWidth; x++)
            {
                double sum = 0;
                var start = (y * width) + x;
                for (var k = 0; k < Kernel.Length; k++)
                    sum += Kernel[k] * values[start + k];
                horizontal[(y * outWidth) + x] = sum;
            }
        }
        var result = new double[outHeight * outWidth];
        for (var y = 0; y < outHeight; y++)
        {
            for (var x = 0; x < outWidth; x++)
            {
                double sum = 0;
                for (var k = 0; k < Kernel.Length; k++)
                    sum += Kernel[k] * horizontal[((y + k) * outWidth) + x];
                result[(y * outWidth) + x] = sum;
            }
        }
        return result;
    }

    private static double[] GaussianKernel(int size, double sigma)
    {
        var kernel = new double[size];
        var centre = (size - 1) / 2.0;
        double sum = 0;
        for (var i = 0; i < size; i++)
        {
            kernel[i] = Math.Exp(-((i - centre) * (i - centre)) / (2 * sigma * sigma));
            sum += kernel[i];
        }
        for (var i = 0; i < size; i++)
            kernel[i] /= sum;
        return kernel;
    }
}
