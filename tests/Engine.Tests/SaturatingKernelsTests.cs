using Onnx;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;

namespace SrMobile.Engine.Tests;

public class SaturatingKernelsTests
{
    [Theory]
    [InlineData(ActivationType.UInt8)]
    [InlineData(ActivationType.Int8)]
    public void Widening_turns_every_convolution_weight_into_uint8_around_128_and_leaves_the_activations_alone(ActivationType activations)
    {
        var architecture = new AbpnArchitecture(2, 1, 4);
        var weights = SrEngineTests.ZeroWeights(architecture)
            .Select(w => w with { Values = [.. w.Values.Select((_, i) => (float)((i % 7) - 3))] }).ToList();
        var ranges = Enumerable.Repeat(new TensorRange(0, 4), architecture.ConvolutionCount).ToList();
        var model = AbpnOnnxWriter.Int8(architecture, weights, ranges, activations);
        var before = model.Graph.Initializer.ToDictionary(t => t.Name, t => t.Clone());

        Assert.Equal(architecture.ConvolutionCount, SaturatingKernels.WidenWeights(model));

        foreach (var tensor in model.Graph.Initializer)
        {
            var original = before[tensor.Name];
            if (tensor.Name.EndsWith(".weight_q", StringComparison.Ordinal) || tensor.Name.EndsWith(".weight_zero", StringComparison.Ordinal))
            {
                Assert.Equal((int)TensorProto.Types.DataType.Uint8, tensor.DataType);
                Assert.Equal(original.RawData.Span.ToArray().Select(b => (sbyte)b + 128), tensor.RawData.Span.ToArray().Select(b => (int)b));
            }
            else
            {
                // Activation zero points (int8 at −128 for int8 activations), biases and scales: untouched.
                Assert.Equal(original, tensor);
            }
        }
        Assert.Equal(0, SaturatingKernels.WidenWeights(model));
    }
}
