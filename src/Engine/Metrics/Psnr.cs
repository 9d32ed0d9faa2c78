namespace SrMobile.Engine.Metrics;

public static class Psnr
{
    /// <summary>
    /// 10·log10(255² / MSE) over the given values. Identical inputs give +∞ (reported as such, never capped,
    /// so a perfect reconstruction is never confused with a good one).
    /// </summary>
    public static double FromMse(double mse) => mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);

    public static double MeanSquaredError(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        if (a.Length != b.Length || a.Length == 0)
            throw new ArgumentException($"cannot compare {a.Length} values with {b.Length}");
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var d = a[i] - b[i];
            sum += d * d;
        }
        return sum / a.Length;
    }

    public static double Of(Plane a, Plane b) => FromMse(MeanSquaredError(a.Values, b.Values));
}
