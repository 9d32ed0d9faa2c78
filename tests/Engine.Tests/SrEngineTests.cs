using Google.Protobuf;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;

namespace SrMobile.Engine.Tests;

public class SrEngineTests
{
    // Seed weights of an untrained network: Glorot-free, all zero, so the model is the anchor (nearest neighbour).
    internal static IReadOnlyList<NamedTensor> ZeroWeights(AbpnArchitecture architecture) =>
        Enumerable.Range(0, architecture.ConvolutionCount).SelectMany(i =>
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            return new[]
            {
                new NamedTensor(AbpnCheckpoint.WeightName(i), [output, input, 3, 3], new float[output * input * 9]),
                new NamedTensor(AbpnCheckpoint.BiasName(i), [output], new float[output]),
            };
        }).ToList();

    private static Image8 Random(int width, int height)
    {
        var image = new Image8(width, height, 3);
        new Random(4).NextBytes(image.Pixels);
        return image;
    }

    [Theory]
    [InlineData(2, ActivationType.UInt8)]
    [InlineData(3, ActivationType.UInt8)]
    [InlineData(4, ActivationType.Int8)]
    public void Zero_weight_int8_and_float_models_are_exactly_nearest_neighbour(int scale, ActivationType activations)
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(scale, 1, 4);
        var ranges = Enumerable.Repeat(new TensorRange(0, 1), architecture.ConvolutionCount).ToList();
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(architecture, ZeroWeights(architecture), ranges, activations), work.File("int8.onnx"));
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(architecture, ZeroWeights(architecture)), work.File("float.onnx"));
        var image = Random(7, 5);
        foreach (var model in new[] { "int8.onnx", "float.onnx" })
        {
            using var engine = SrEngine.Load(work.File(model));
            Assert.Equal(scale, engine.Scale);
            var output = engine.Upscale(image);
            for (var y = 0; y < output.Height; y++)
                for (var x = 0; x < output.Width; x++)
                    for (var c = 0; c < 3; c++)
                        Assert.Equal(image[y / scale, x / scale, c], output[y, x, c]);
        }
    }

    [Fact]
    public void A_model_whose_input_is_not_Nx3xHxW_is_refused()
    {
        using var work = TestData.NewTemporaryFolder();
        var model = AbpnOnnxWriter.Float(new AbpnArchitecture(2, 1, 2), ZeroWeights(new AbpnArchitecture(2, 1, 2)));
        model.Graph.Input[0].Type.TensorType.Shape.Dim[1].DimValue = 4;
        File.WriteAllBytes(work.File("four.onnx"), model.ToByteArray());
        var error = Assert.Throws<BadInputException>(() => SrEngine.Load(work.File("four.onnx")));
        Assert.Contains(work.File("four.onnx"), error.Message);
    }

    [Fact]
    public void A_gray_image_given_to_a_raw_run_is_refused_with_its_channel_count()
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(2, 1, 2);
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(architecture, ZeroWeights(architecture)), work.File("m.onnx"));
        using var engine = SrEngine.Load(work.File("m.onnx"));
        var error = Assert.Throws<BadInputException>(() => engine.Run(new Image8(4, 4, 1)));
        Assert.Contains("1 channels", error.Message);
        Assert.Equal(1, engine.Upscale(new Image8(4, 4, 1)).Channels); // Upscale itself handles gray
    }

    [Fact]
    public void Latency_percentiles_interpolate_between_ranks()
    {
        double[] sorted = [1, 2, 3, 4, 5];
        Assert.Equal(3, LatencyMeasurement.Percentile(sorted, 50));
        Assert.Equal(4.6, LatencyMeasurement.Percentile(sorted, 90), 9);
        Assert.Equal(1, LatencyMeasurement.Percentile(sorted, 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public void Every_model_takes_every_place_in_the_load_order_once(int count)
    {
        var orders = LatencyMeasurement.LoadOrders(count);
        Assert.Equal(count, orders.Count);
        Assert.All(orders, order => Assert.Equal(Enumerable.Range(0, count), order.Order()));
        for (var place = 0; place < count; place++)
            Assert.Equal(Enumerable.Range(0, count), orders.Select(order => order[place]).Order());
    }

    [Fact]
    public void Past_the_pass_limit_each_pass_loads_another_model_first()
    {
        var orders = LatencyMeasurement.LoadOrders(32);
        Assert.Equal(LatencyMeasurement.MaxPasses, orders.Count);
        Assert.Equal(orders.Count, orders.Select(order => order[0]).Distinct().Count());
        Assert.All(orders, order => Assert.Equal(Enumerable.Range(0, 32), order.Order()));
    }

    [Fact]
    public void Several_models_are_measured_over_the_load_orders_with_the_same_runs_each()
    {
        using var work = TestData.NewTemporaryFolder();
        var small = new AbpnArchitecture(2, 1, 4);
        var large = new AbpnArchitecture(2, 2, 8);
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(small, ZeroWeights(small)), work.File("small.onnx"));
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(large, ZeroWeights(large)), work.File("large.onnx"));
        var protocol = new LatencyProtocol { Height = 16, Width = 16, Warmup = 1, MinRuns = 5, MinSeconds = 0, MaxSeconds = 60 };

        var results = LatencyMeasurement.Measure([work.File("small.onnx"), work.File("large.onnx")], protocol);

        Assert.Equal([work.File("small.onnx"), work.File("large.onnx")], results.Select(r => r.Model));
        // Two passes (each model loaded first once) of three rounds: the protocol's five runs, rounded up per pass.
        Assert.All(results, r => Assert.Equal(6, r.Runs));
        Assert.All(results, r => Assert.True(r.MedianMs > 0 && r.SessionMs > 0 && r.FirstRunMs > 0, $"{r.Model}: {r.MedianMs} ms"));
    }
}
