using SrMobile.Engine.Onnx;
using static TorchSharp.torch;

namespace SrMobile.Training.Quantization;

/// <summary>
/// The arithmetic of the int8 graph in float: the same rounding (half to even) and clamping as ONNX Runtime's
/// QuantizeLinear, with a straight-through gradient inside the range (zero outside). Used by the QAT forward and
/// by the parity tests that hold it against ONNX Runtime's own int8 output.
/// </summary>
public static class FakeQuantization
{
    /// <summary>Per-tensor affine fake-quant: x → (clamp(round(x/s) + zp) − zp)·s.</summary>
    public static Tensor PerTensor(Tensor x, AffineQuantization q)
    {
        var low = q.Scale * (q.Min - q.ZeroPoint);
        var high = q.Scale * (q.Max - q.ZeroPoint);
        var clipped = x.clamp(low, high);
        var quantized = ((clipped / q.Scale).round() + q.ZeroPoint).clamp(q.Min, q.Max).sub(q.ZeroPoint).mul(q.Scale);
        return clipped + (quantized - clipped).detach();
    }

    /// <summary>Per-output-channel symmetric int8 (−127..127) fake-quant of OIHW weights, scale max|W_c| / 127.</summary>
    public static Tensor Weights(Tensor weight)
    {
        var scales = ChannelScales(weight);
        var quantized = (weight / scales).round().clamp(-127, 127) * scales;
        return weight + (quantized - weight).detach();
    }

    /// <summary>The per-channel weight scales, shaped [O, 1, 1, 1] (as WeightQuantization.ChannelScales computes them).</summary>
    public static Tensor ChannelScales(Tensor weight)
    {
        var max = weight.detach().abs().amax([1, 2, 3], keepdim: true);
        return where(max > 0, max / 127f, ones_like(max));
    }

    /// <summary>A bias as the int8 graph holds it: int32 at scale s_in · s_w[c] (no gradient through the rounding).</summary>
    public static Tensor Bias(Tensor bias, float inputScale, Tensor weightScales)
    {
        var scale = weightScales.flatten() * inputScale;
        var quantized = (bias / scale).round() * scale;
        return bias + (quantized - bias).detach();
    }
}
