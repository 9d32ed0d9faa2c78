using SrMobile.Engine.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace SrMobile.Training.Quantization;

/// <summary>
/// The arithmetic of the int8 graph in float: the same rounding (half to even) and clamping as ONNX Runtime's
/// QuantizeLinear, with a straight-through gradient inside the range (zero outside). Used by the QAT forward and
/// by the parity tests that hold it against ONNX Runtime's own int8 output.
/// Every number handed to libtorch is an explicit <see cref="Scalar"/> disposed after the operation (see
/// <see cref="Scalars"/>): TorchSharp's implicit ones are left to the finalizer, which can free one while libtorch
/// still reads it.
/// </summary>
public static class FakeQuantization
{
    /// <summary>Per-tensor affine fake-quant: x → (clamp(round(x/s) + zp) − zp)·s.</summary>
    public static Tensor PerTensor(Tensor x, AffineQuantization q)
    {
        using var low = (q.Scale * (q.Min - q.ZeroPoint)).ToScalar();
        using var high = (q.Scale * (q.Max - q.ZeroPoint)).ToScalar();
        using var scale = q.Scale.ToScalar();
        using var zeroPoint = q.ZeroPoint.ToScalar();
        using var min = q.Min.ToScalar();
        using var max = q.Max.ToScalar();
        var clipped = x.clamp(low, high);
        var quantized = clipped.div(scale).round().add(zeroPoint).clamp(min, max).sub(zeroPoint).mul(scale);
        return clipped + (quantized - clipped).detach();
    }

    /// <summary>Per-output-channel symmetric int8 (−127..127) fake-quant of OIHW weights, scale max|W_c| / 127.</summary>
    public static Tensor Weights(Tensor weight)
    {
        var scales = ChannelScales(weight);
        var quantized = (weight / scales).round().clamp(Scalars.MinusInt8Max, Scalars.Int8Max) * scales;
        return weight + (quantized - weight).detach();
    }

    /// <summary>The per-channel weight scales, shaped [O, 1, 1, 1] (as WeightQuantization.ChannelScales computes them).</summary>
    public static Tensor ChannelScales(Tensor weight)
    {
        var max = weight.detach().abs().amax([1, 2, 3], keepdim: true);
        return where(max.gt(Scalars.Zero), max.div(Scalars.Int8Max), ones_like(max));
    }

    /// <summary>A bias as the int8 graph holds it: int32 at scale s_in · s_w[c] (no gradient through the rounding).</summary>
    public static Tensor Bias(Tensor bias, float inputScale, Tensor weightScales)
    {
        using var input = inputScale.ToScalar();
        var scale = weightScales.flatten().mul(input);
        var quantized = (bias / scale).round() * scale;
        return bias + (quantized - bias).detach();
    }
}
