namespace SrMobile.Engine.Onnx;

/// <summary>The integer type of quantized activations: uint8 suits x86 (VNNI/AVX2 kernels), int8 suits ARM.</summary>
public enum ActivationType
{
    UInt8,
    Int8,
}

/// <summary>An observed float range of one activation tensor.</summary>
public sealed record TensorRange(double Min, double Max);

/// <summary>
/// Per-tensor affine quantization q = clamp(round(x / Scale) + ZeroPoint), rounding half to even as ONNX
/// QuantizeLinear does.
/// </summary>
public sealed record AffineQuantization(float Scale, int ZeroPoint, ActivationType Type)
{
    public int Min => Type == ActivationType.UInt8 ? 0 : -128;
    public int Max => Type == ActivationType.UInt8 ? 255 : 127;

    /// <summary>The range widened to hold 0 (so zero is exact), spread over the type's 256 levels.</summary>
    public static AffineQuantization ForRange(TensorRange range, ActivationType type)
    {
        var low = Math.Min(range.Min, 0);
        var high = Math.Max(range.Max, 0);
        var qmin = type == ActivationType.UInt8 ? 0 : -128;
        var qmax = type == ActivationType.UInt8 ? 255 : 127;
        var scale = high > low ? (float)((high - low) / (qmax - qmin)) : 1f;
        var zeroPoint = (int)Math.Clamp(Math.Round(qmin - (low / scale), MidpointRounding.ToEven), qmin, qmax);
        return new AffineQuantization(scale, zeroPoint, type);
    }

    /// <summary>Exactly the pixel values: scale 1 and the zero point that maps 0..255 onto the type.</summary>
    public static AffineQuantization Pixels(ActivationType type) => new(1f, type == ActivationType.UInt8 ? 0 : -128, type);

    public int Quantize(float value) =>
        (int)Math.Clamp(Math.Round((double)(value / Scale), MidpointRounding.ToEven) + ZeroPoint, Min, Max);
}

/// <summary>Per-output-channel symmetric int8 weights (−127..127) and int32 biases at scale s_in · s_w[c].</summary>
public static class WeightQuantization
{
    public static float[] ChannelScales(float[] weights, int outputChannels)
    {
        var perChannel = weights.Length / outputChannels;
        var scales = new float[outputChannels];
        for (var c = 0; c < outputChannels; c++)
        {
            var max = 0f;
            for (var k = 0; k < perChannel; k++)
                max = Math.Max(max, Math.Abs(weights[(c * perChannel) + k]));
            scales[c] = max > 0 ? max / 127f : 1f;
        }
        return scales;
    }

    public static sbyte[] Quantize(float[] weights, float[] scales)
    {
        var perChannel = weights.Length / scales.Length;
        var result = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
            result[i] = (sbyte)Math.Clamp(Math.Round((double)(weights[i] / scales[i / perChannel]), MidpointRounding.ToEven), -127, 127);
        return result;
    }

    public static int[] QuantizeBias(float[] bias, float inputScale, float[] weightScales)
    {
        var result = new int[bias.Length];
        for (var c = 0; c < bias.Length; c++)
        {
            // The bias scale is the float product, as the bias DequantizeLinear in the graph states it.
            var scale = inputScale * weightScales[c];
            result[c] = (int)Math.Clamp(Math.Round(bias[c] / (double)scale, MidpointRounding.ToEven), int.MinValue, int.MaxValue);
        }
        return result;
    }
}
