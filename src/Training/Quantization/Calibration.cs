using SrMobile.Engine;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Onnx;
using SrMobile.Training.Network;
using static TorchSharp.torch;

namespace SrMobile.Training.Quantization;

public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum (the seed's choice).</summary>
    MinMax,

    /// <summary>The 0.01 % and 99.99 % points of the observed values.</summary>
    Percentile,

    /// <summary>The clipping range that minimises the expected quantization error (clip + rounding) on the observed values.</summary>
    Mse,
}

/// <summary>
/// Post-training calibration: runs the float network on full-size LR images and derives, per convolution output
/// (the tensors the int8 graph quantizes), the float range to quantize. Two passes: min/max, then a 2048-bin
/// histogram over that range, from which percentile and MSE ranges are read.
/// </summary>
public static class Calibration
{
    private const int Bins = 2048;

    public static IReadOnlyList<TensorRange> Ranges(AbpnNetwork network, IReadOnlyList<Image8> lowResolution, CalibrationMethod method,
        ActivationType activations = ActivationType.UInt8, IProgress<(int Done, int Total)>? progress = null)
    {
        if (lowResolution.Count == 0)
            throw new BadInputException("calibration needs at least one image");
        var count = network.Architecture.ConvolutionCount;
        var min = Enumerable.Repeat(double.PositiveInfinity, count).ToArray();
        var max = Enumerable.Repeat(double.NegativeInfinity, count).ToArray();
        Observe(network, lowResolution, (i, t) =>
        {
            min[i] = Math.Min(min[i], t.min().item<float>());
            max[i] = Math.Max(max[i], t.max().item<float>());
        }, progress, 0);
        var observed = Enumerable.Range(0, count).Select(i => new TensorRange(Math.Min(min[i], 0), Math.Max(max[i], 0))).ToArray();
        if (method == CalibrationMethod.MinMax)
            return observed;

        var histograms = new double[count][];
        for (var i = 0; i < count; i++)
            histograms[i] = new double[Bins];
        Observe(network, lowResolution, (i, t) =>
        {
            var range = observed[i];
            if (range.Max <= range.Min)
                return;
            // TorchSharp's histc takes integer bounds: map the range onto [0, Bins] first.
            using var scaled = (t - range.Min) * (Bins / (range.Max - range.Min));
            using var counts = scaled.histc(Bins, 0, Bins).cpu();
            var values = counts.data<float>().ToArray();
            for (var b = 0; b < Bins; b++)
                histograms[i][b] += values[b];
        }, progress, lowResolution.Count);

        return Enumerable.Range(0, count).Select(i => method == CalibrationMethod.Percentile
            ? PercentileRange(histograms[i], observed[i], 0.01)
            : MseRange(histograms[i], observed[i], activations)).ToList();
    }

    private static void Observe(AbpnNetwork network, IReadOnlyList<Image8> images, Action<int, Tensor> observe, IProgress<(int Done, int Total)>? progress, int offset)
    {
        var device = network.parameters().First().device;
        using var _ = no_grad();
        for (var n = 0; n < images.Count; n++)
        {
            using var scope = NewDisposeScope();
            network.Forward(Trainer.SuperResolver.ToTensor(images[n].ToRgb()).to(device), observe);
            progress?.Report((offset + n + 1, 2 * images.Count));
        }
    }

    /// <summary>The values between the <paramref name="percent"/> and 100 − percent points (0 stays inside).</summary>
    private static TensorRange PercentileRange(double[] histogram, TensorRange observed, double percent)
    {
        var total = histogram.Sum();
        var width = (observed.Max - observed.Min) / Bins;
        double Point(double fraction)
        {
            var target = total * fraction;
            double seen = 0;
            for (var b = 0; b < Bins; b++)
            {
                seen += histogram[b];
                if (seen >= target)
                    return observed.Min + ((b + 1) * width);
            }
            return observed.Max;
        }
        var low = observed.Min < 0 ? Math.Min(0, Point(percent / 100)) : 0;
        return new TensorRange(low, Math.Max(0, Point(1 - (percent / 100))));
    }

    /// <summary>
    /// Searches upper (and, for signed tensors, lower) clip points on the histogram for the least expected squared
    /// error: values outside are clipped, values inside are rounded to the grid (error Δ²/12 each).
    /// </summary>
    private static TensorRange MseRange(double[] histogram, TensorRange observed, ActivationType activations)
    {
        var width = (observed.Max - observed.Min) / Bins;
        var best = observed;
        var bestError = double.PositiveInfinity;
        for (var fraction = 0.30; fraction <= 1.0001; fraction += 0.01)
        {
            var candidate = new TensorRange(observed.Min * fraction, observed.Max * fraction);
            var q = AffineQuantization.ForRange(candidate, activations);
            var low = q.Scale * (q.Min - q.ZeroPoint);
            var high = q.Scale * (q.Max - q.ZeroPoint);
            double error = 0;
            for (var b = 0; b < Bins; b++)
            {
                if (histogram[b] == 0)
                    continue;
                var centre = observed.Min + ((b + 0.5) * width);
                var clipped = centre < low ? low - centre : centre > high ? centre - high : 0;
                error += histogram[b] * ((clipped * clipped) + (q.Scale * q.Scale / 12));
            }
            if (error < bestError)
            {
                bestError = error;
                best = candidate;
            }
        }
        return best;
    }
}
