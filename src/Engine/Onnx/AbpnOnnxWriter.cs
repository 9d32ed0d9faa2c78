using Google.Protobuf;
using Onnx;
using SrMobile.Engine.Models;

namespace SrMobile.Engine.Onnx;

/// <summary>
/// Writes ABPN as ONNX (opset 17, dynamic N×H×W) from the seed network's weights (OIHW float arrays,
/// <see cref="AbpnCheckpoint.SeedWeights"/>): the float graph, and the QDQ int8 graph that ONNX Runtime fuses into
/// QLinearConv/QLinearAdd. The anchor is a Gather along channels with index k / s² (CRD order, matching
/// DepthToSpace mode CRD); the float graph ends in Clip(0, 255), the int8 graph in a uint8 quantization with scale 1
/// and zero point 0, whose saturation is the clip, so the raw uint8 output is the pixel value.
/// </summary>
public static class AbpnOnnxWriter
{
    public const string InputName = "input";
    public const string OutputName = "output";
    public const long Opset = 17;

    public static ModelProto Float(AbpnArchitecture architecture, IReadOnlyList<NamedTensor> seedWeights)
    {
        var graph = new GraphWriter("abpn_float");
        graph.Input(InputName, TensorProto.Types.DataType.Float);
        var x = InputName;
        for (var i = 0; i < architecture.ConvolutionCount; i++)
        {
            var weight = Weight(seedWeights, AbpnCheckpoint.WeightName(i));
            var bias = Weight(seedWeights, AbpnCheckpoint.BiasName(i));
            graph.FloatInitializer($"conv{i}.weight", weight.Shape, weight.Values);
            graph.FloatInitializer($"conv{i}.bias", bias.Shape, bias.Values);
            x = graph.Conv($"conv{i}", x, $"conv{i}.weight", $"conv{i}.bias");
            if (i < architecture.ConvolutionCount - 1)
                x = graph.Node("Relu", [x], $"relu{i}");
        }
        var anchor = graph.Anchor(InputName, architecture.Scale);
        var sum = graph.Node("Add", [x, anchor], "residual_plus_anchor");
        var shuffled = graph.DepthToSpace(sum, architecture.Scale);
        graph.FloatInitializer("clip.min", [], [0f]);
        graph.FloatInitializer("clip.max", [], [255f]);
        graph.Node("Clip", [shuffled, "clip.min", "clip.max"], OutputName);
        graph.Output(OutputName, TensorProto.Types.DataType.Float);
        return graph.Model($"{architecture} float");
    }

    // convOutputRanges: per convolution, the float range of its output (after its ReLU, if any), e.g. from calibration.
    public static ModelProto Int8(AbpnArchitecture architecture, IReadOnlyList<NamedTensor> seedWeights,
        IReadOnlyList<TensorRange> convOutputRanges, ActivationType activations = ActivationType.UInt8)
    {
        if (convOutputRanges.Count != architecture.ConvolutionCount)
            throw new ArgumentException($"{architecture} has {architecture.ConvolutionCount} convolutions, {convOutputRanges.Count} ranges were given");
        var graph = new GraphWriter("abpn_int8");
        graph.Input(InputName, TensorProto.Types.DataType.Uint8);

        // The pixels enter exactly: scale 1 (zero point 0 for uint8, −128 for int8 activations).
        var pixels = AffineQuantization.Pixels(activations);
        var inputPixels = AffineQuantization.Pixels(ActivationType.UInt8);
        var quantizedInput = InputName;
        if (activations == ActivationType.Int8)
            quantizedInput = graph.Quantize(graph.Dequantize(InputName, inputPixels, "input"), pixels, "input_int8");
        var x = graph.Dequantize(quantizedInput, pixels, "input_q");
        var inputScale = pixels.Scale;
        for (var i = 0; i < architecture.ConvolutionCount; i++)
        {
            var weight = Weight(seedWeights, AbpnCheckpoint.WeightName(i));
            var bias = Weight(seedWeights, AbpnCheckpoint.BiasName(i));
            var channels = (int)weight.Shape[0];
            var scales = WeightQuantization.ChannelScales(weight.Values, channels);
            var biasScales = scales.Select(s => inputScale * s).ToArray();
            graph.Int8Initializer($"conv{i}.weight_q", weight.Shape, WeightQuantization.Quantize(weight.Values, scales));
            graph.FloatInitializer($"conv{i}.weight_scale", [channels], scales);
            graph.Int8Initializer($"conv{i}.weight_zero", [channels], new sbyte[channels]);
            graph.Int32Initializer($"conv{i}.bias_q", [channels], WeightQuantization.QuantizeBias(bias.Values, inputScale, scales));
            graph.FloatInitializer($"conv{i}.bias_scale", [channels], biasScales);
            graph.Int32Initializer($"conv{i}.bias_zero", [channels], new int[channels]);
            var w = graph.Node("DequantizeLinear", [$"conv{i}.weight_q", $"conv{i}.weight_scale", $"conv{i}.weight_zero"], $"conv{i}.weight", GraphWriter.Attribute("axis", 0));
            var b = graph.Node("DequantizeLinear", [$"conv{i}.bias_q", $"conv{i}.bias_scale", $"conv{i}.bias_zero"], $"conv{i}.bias", GraphWriter.Attribute("axis", 0));
            var y = graph.Conv($"conv{i}", x, w, b);
            if (i < architecture.ConvolutionCount - 1)
                y = graph.Node("Relu", [y], $"relu{i}");
            var output = AffineQuantization.ForRange(convOutputRanges[i], activations);
            x = graph.Dequantize(graph.Quantize(y, output, $"act{i}"), output, $"act{i}");
            inputScale = output.Scale;
        }

        // The anchor gathers the (exact) quantized input; the sum is quantized with scale 1: saturation clips.
        var anchor = graph.Dequantize(graph.Anchor(quantizedInput, architecture.Scale), pixels, "anchor");
        var sum = graph.Node("Add", [x, anchor], "residual_plus_anchor");
        var sumQuantized = graph.Quantize(sum, pixels, "sum");
        if (activations == ActivationType.Int8)
            sumQuantized = graph.Quantize(graph.Dequantize(sumQuantized, pixels, "sum"), inputPixels, "sum_uint8");
        graph.Node("DepthToSpace", [sumQuantized], OutputName, GraphWriter.Attribute("blocksize", architecture.Scale), GraphWriter.Attribute("mode", "CRD"));
        graph.Output(OutputName, TensorProto.Types.DataType.Uint8);
        return graph.Model($"{architecture} int8 QDQ ({activations} activations)");
    }

    public static void Save(ModelProto model, string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temporary, model.ToByteArray());
        File.Move(temporary, path, overwrite: true);
    }

    private static NamedTensor Weight(IReadOnlyList<NamedTensor> weights, string name) =>
        weights.FirstOrDefault(w => w.Name == name) ?? throw new ArgumentException($"no weight {name}");
}
