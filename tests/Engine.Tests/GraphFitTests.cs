using Onnx;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

public class GraphFitTests
{
    /// <summary>Seeded weights of every convolution, small enough that activations stay inside the ranges below.</summary>
    private static IReadOnlyList<NamedTensor> Weights(AbpnArchitecture architecture, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, architecture.ConvolutionCount).SelectMany(i =>
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            var spread = 1.5f / MathF.Sqrt(input * 9);
            return new[]
            {
                new NamedTensor(AbpnCheckpoint.WeightName(i), [output, input, 3, 3], [.. Enumerable.Range(0, output * input * 9).Select(_ => (random.NextSingle() - 0.5f) * 2 * spread)]),
                new NamedTensor(AbpnCheckpoint.BiasName(i), [output], [.. Enumerable.Range(0, output).Select(_ => (random.NextSingle() - 0.5f) * 0.2f)]),
            };
        })];
    }

    private static ModelProto Int8(AbpnArchitecture architecture, ActivationType activations)
    {
        // Hidden activations over [0, 60] (pixel-sized inputs), the residual over ±40.
        var ranges = Enumerable.Range(0, architecture.ConvolutionCount)
            .Select(i => i == architecture.ConvolutionCount - 1 ? new TensorRange(-40, 40) : new TensorRange(0, 60)).ToList();
        return AbpnOnnxWriter.Int8(architecture, Weights(architecture, architecture.Width), ranges, activations);
    }

    private static Image8 Noise(int width, int height)
    {
        var image = new Image8(width, height, 3);
        new Random(7).NextBytes(image.Pixels);
        return image;
    }

    private static byte[] Run(string path, GraphFit fit, Image8 image, GraphFit? expected = null)
    {
        using var engine = SrEngine.Load(path, new EngineOptions { Fit = fit });
        Assert.Equal(expected ?? fit, engine.Fitted);
        return engine.Upscale(image).Pixels;
    }

    [Theory]
    [InlineData(2, 1, 8, ActivationType.UInt8)]
    [InlineData(3, 2, 6, ActivationType.UInt8)]
    [InlineData(3, 1, 28, ActivationType.UInt8)]
    [InlineData(4, 1, 10, ActivationType.UInt8)]
    [InlineData(3, 1, 16, ActivationType.Int8)]
    [InlineData(2, 2, 30, ActivationType.Int8)]
    public void Every_fit_computes_exactly_what_the_stored_int8_graph_computes(int scale, int depth, int width, ActivationType activations)
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(scale, depth, width);
        var path = work.File("model.onnx");
        AbpnOnnxWriter.Save(Int8(architecture, activations), path);
        var image = Noise(23, 17);

        var stored = Run(path, GraphFit.None, image);
        Assert.True(stored.Distinct().Count() > 100, "the model's output should vary, or equality would say little");
        foreach (var fit in new[] { GraphFit.Pad, GraphFit.Shuffle, GraphFit.Pad | GraphFit.Shuffle })
        {
            // Padding is for the uint8-activation graph only (GraphFitting.Host); the int8 one is left as it is.
            var applied = activations == ActivationType.UInt8 ? fit : fit & ~GraphFit.Pad;
            Assert.True(stored.SequenceEqual(Run(path, fit, image, applied)), $"fit {GraphFitting.Format(fit)} changed the output of {architecture}");
        }
    }

    // The int8-activation graph (ARM's) is not padded by the fit (on x86 it came out 7 % slower, GraphFitting.Host),
    // but padding it is exact too: its input is padded with the int8 zero point, −128.
    [Fact]
    public void Padding_the_int8_activation_graph_is_exact_and_the_fit_leaves_it_to_the_uint8_graph()
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(3, 1, 10);
        var model = Int8(architecture, ActivationType.Int8);
        Assert.Equal(0, ChannelPadding.Apply(model, ActivationType.UInt8, 4, 4, 16));
        AbpnOnnxWriter.Save(model, work.File("stored.onnx"));
        Assert.Equal(architecture.ConvolutionCount, ChannelPadding.Apply(model, ActivationType.Int8, 4, 4, 16));
        Assert.Equal([(byte)0x80], model.Graph.Initializer.Single(t => t.Name.EndsWith(".value", StringComparison.Ordinal)).RawData.ToByteArray());
        AbpnOnnxWriter.Save(model, work.File("padded.onnx"));

        var image = Noise(21, 13);
        Assert.Equal(Run(work.File("stored.onnx"), GraphFit.None, image), Run(work.File("padded.onnx"), GraphFit.None, image));
    }

    [Fact]
    public void The_float_graph_gets_the_shuffle_and_keeps_its_output()
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(3, 1, 6);
        var path = work.File("float.onnx");
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(architecture, Weights(architecture, 1)), path);
        var model = AbpnOnnxWriter.Float(architecture, Weights(architecture, 1));

        Assert.Equal(0, ChannelPadding.Apply(model, ActivationType.UInt8, 4, 4, 16));
        Assert.Equal(1, DepthToSpaceSplit.Apply(model));
        var image = Noise(19, 11);
        Assert.Equal(Run(path, GraphFit.None, image), Run(path, GraphFit.Pad | GraphFit.Shuffle, image, expected: GraphFit.Shuffle));
    }

    [Fact]
    public void Each_latency_names_the_fit_its_graph_got()
    {
        using var work = TestData.NewTemporaryFolder();
        var path = work.File("model.onnx");
        AbpnOnnxWriter.Save(Int8(new AbpnArchitecture(2, 1, 8), ActivationType.UInt8), path);
        var quick = new LatencyProtocol { Height = 12, Width = 12, Warmup = 0, MinRuns = 2, MinSeconds = 0 };

        var results = LatencyMeasurement.Measure([new MeasuredModel(path, GraphFit.None), new MeasuredModel(path, GraphFit.Pad | GraphFit.Shuffle)], quick);

        Assert.Equal(["none", "pad,shuffle"], results.Select(r => r.GraphFit));
        Assert.Contains("\"graph_fit\":\"pad,shuffle\"", System.Text.Json.JsonSerializer.Serialize(results[1]));
    }

    [Fact]
    public void Padding_gives_every_convolution_the_direct_kernels_shapes_and_slices_before_the_anchor()
    {
        var architecture = new AbpnArchitecture(3, 1, 10);
        var model = Int8(architecture, ActivationType.UInt8);

        // 3→10, 10→10, 10→27, 27→27: every one changes (the image's 3 channels, widths under 16, 27 not in fours).
        Assert.Equal(architecture.ConvolutionCount, ChannelPadding.Apply(model, ActivationType.UInt8, 4, 4, 16));
        var weights = model.Graph.Initializer.Where(t => t.Name.EndsWith(".weight_q", StringComparison.Ordinal)).ToDictionary(t => t.Name, t => t.Dims.ToArray());
        Assert.Equal([16, 4, 3, 3], weights["conv0.weight_q"]);
        Assert.Equal([16, 16, 3, 3], weights["conv1.weight_q"]);
        Assert.Equal([28, 16, 3, 3], weights["conv2.weight_q"]);
        Assert.Equal([28, 28, 3, 3], weights["conv3.weight_q"]);
        foreach (var name in new[] { "conv3.weight_scale", "conv3.weight_zero", "conv3.bias_q", "conv3.bias_scale", "conv3.bias_zero" })
            Assert.Equal(28, model.Graph.Initializer.Single(t => t.Name == name).Dims.Single());
        Assert.Equal(["Pad"], model.Graph.Node.Where(n => n.OpType == "Pad").Select(n => n.OpType));
        var slice = model.Graph.Node.Single(n => n.OpType == "Slice");
        Assert.Equal([27L], model.Graph.Initializer.Single(t => t.Name == slice.Input[2]).Int64Data);

        // A fitted graph is fitted: nothing more to pad.
        Assert.Equal(0, ChannelPadding.Apply(model, ActivationType.UInt8, 4, 4, 16));
    }

    [Fact]
    public void A_model_with_weights_in_external_files_is_left_as_stored()
    {
        var model = Int8(new AbpnArchitecture(3, 1, 10), ActivationType.UInt8);
        var before = model.Clone();
        model.Graph.Initializer[0].DataLocation = TensorProto.Types.DataLocation.External;
        before.Graph.Initializer[0].DataLocation = TensorProto.Types.DataLocation.External;

        Assert.Equal(GraphFit.None, GraphFitting.Apply(model, GraphFit.Pad | GraphFit.Shuffle));
        Assert.Equal(before, model);
    }

    [Fact]
    public void Fits_are_read_and_written_by_name_and_a_wrong_one_is_named()
    {
        Assert.Equal(GraphFit.Pad | GraphFit.Shuffle, GraphFitting.Parse("pad, shuffle"));
        Assert.Equal(GraphFit.None, GraphFitting.Parse("none"));
        Assert.Equal(GraphFitting.Host, GraphFitting.Parse("host"));
        Assert.Equal("pad,shuffle", GraphFitting.Format(GraphFit.Pad | GraphFit.Shuffle));
        Assert.Equal("none", GraphFitting.Format(GraphFit.None));
        var error = Assert.Throws<BadInputException>(() => GraphFitting.Parse("pad,fold"));
        Assert.Contains("'fold'", error.Message);
        Assert.Contains("--fit", error.Message);
    }
}
