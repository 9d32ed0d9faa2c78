using Microsoft.ML.OnnxRuntime;
using Onnx;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;
using SrMobile.Training.Data;
using SrMobile.Training.Network;
using SrMobile.Training.Quantization;
using SrMobile.Training.Trainer;
using static TorchSharp.torch;

namespace SrMobile.Training.Tests;

/// <summary>A briefly trained ABPN ×3 (realistic, non-saturating weights) and real LR images, shared by the parity tests.</summary>
public sealed class TrainedModel : IDisposable
{
    private readonly TemporaryFolder work = TestData.NewTemporaryFolder();

    public TrainedModel()
    {
        var options = new TrainingOptions
        {
            Depth = 2,
            Width = 12,
            Train = new HighOnlyFolderSource(TestData.Samples),
            Iterations = 150,
            BatchSize = 8,
            PatchSize = 24,
            LearningRate = 2e-3,
            ValidateEvery = 0,
            Threads = 1,
        };
        var paths = new ExperimentPaths(work.Path, "parity");
        new AbpnTrainer(options, paths, new DatasetLoader(work.File("cache"))).Run(resume: false);
        CheckpointPath = paths.LastCheckpoint;
        Checkpoint = AbpnCheckpoint.Load(paths.LastCheckpoint);
        Images = ImageFile.ListImages(TestData.Benchmark("Set5"))
            .Select(path => MatlabResize.Downscale(ImageFile.Read(path).ModCrop(3), 3)).ToList();
    }

    public string CheckpointPath { get; }
    public AbpnCheckpoint Checkpoint { get; }
    public IReadOnlyList<Image8> Images { get; }

    public string File(string name) => work.File(name);

    public void Dispose() => work.Dispose();
}

public class OnnxParityTests(TrainedModel trained) : IClassFixture<TrainedModel>
{
    [Fact]
    public void Ort_float_model_matches_torchsharp_within_a_hundredth()
    {
        var path = trained.File("float.onnx");
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Float(trained.Checkpoint.Architecture, trained.Checkpoint.SeedWeights()), path);
        using var network = AbpnNetwork.FromCheckpoint(trained.Checkpoint);
        using var session = new InferenceSession(path);
        var worst = 0f;
        foreach (var image in trained.Images)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var input = SuperResolver.ToTensor(image);
            var expected = network.forward(input).data<float>().ToArray();
            using var value = OrtValue.CreateTensorValueFromMemory(input.data<float>().ToArray(), input.shape);
            using var outputs = session.Run(new RunOptions(), [AbpnOnnxWriter.InputName], [value], [AbpnOnnxWriter.OutputName]);
            var actual = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            Assert.Equal(expected.Length, actual.Length);
            worst = Math.Max(worst, expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max());
        }
        Assert.True(worst <= 0.01f, $"max |ORT − TorchSharp| = {worst}");
    }

    // The graph as stored and as the engine fits it to a CPU (padded channels, split DepthToSpace), on every CPU.
    [Theory]
    [InlineData(ActivationType.UInt8, "none")]
    [InlineData(ActivationType.UInt8, "pad,shuffle")]
    [InlineData(ActivationType.Int8, "none")]
    [InlineData(ActivationType.Int8, "pad,shuffle")]
    public void Fake_quant_forward_matches_the_ort_int8_output(ActivationType activations, string fit)
    {
        using var network = AbpnNetwork.FromCheckpoint(trained.Checkpoint);
        var (path, ranges) = WritePtqModel($"int8-{activations}.onnx", network, trained.Images, activations);
        using var engine = SrEngine.Load(path, new EngineOptions { Fit = GraphFitting.Parse(fit) });
        AssertMatchesOrt(image => network.QuantizedForward(SuperResolver.ToTensor(image), ranges, activations), engine, trained.Images);
    }

    /// <summary>Min/max PTQ of the trained model on <paramref name="calibration"/>, written as a QDQ int8 model.</summary>
    private (string Path, IReadOnlyList<TensorRange> Ranges) WritePtqModel(string name, AbpnNetwork network, IReadOnlyList<Image8> calibration,
        ActivationType activations = ActivationType.UInt8)
    {
        var ranges = Calibration.Ranges(network, calibration, CalibrationMethod.MinMax, activations);
        var path = trained.File(name);
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(trained.Checkpoint.Architecture, trained.Checkpoint.SeedWeights(), ranges, activations), path);
        return (path, ranges);
    }

    /// <summary>≥ 99.9 % of output values identical to ONNX Runtime's int8 output, none more than one level apart.</summary>
    private static void AssertMatchesOrt(Func<Image8, Tensor> simulate, SrEngine engine, IEnumerable<Image8> images)
    {
        long total = 0, identical = 0, farther = 0;
        foreach (var image in images)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var simulated = simulate(image).data<float>().ToArray();
            var ort = engine.Run(image);
            var plane = ort.Width * ort.Height;
            for (var i = 0; i < plane; i++)
            {
                for (var c = 0; c < 3; c++)
                {
                    var difference = Math.Abs(simulated[(c * plane) + i] - ort.Pixels[(3 * i) + c]);
                    total++;
                    identical += difference == 0 ? 1 : 0;
                    farther += difference > 1 ? 1 : 0;
                }
            }
        }
        Assert.True(identical >= 0.999 * total, $"{identical} of {total} values identical ({100.0 * identical / total:F3} %)");
        Assert.Equal(0, farther);
    }

    [Fact]
    public void Ort_runs_every_convolution_of_the_int8_graph_as_QLinearConv()
    {
        using var network = AbpnNetwork.FromCheckpoint(trained.Checkpoint);
        var (path, _) = WritePtqModel("int8-optimized-check.onnx", network, trained.Images.Take(2).ToList());
        var optimized = trained.File("int8-as-run.onnx");
        using (SrEngine.Load(path, new EngineOptions { OptimizedModelPath = optimized }))
        {
        }
        var graph = ModelProto.Parser.ParseFrom(System.IO.File.ReadAllBytes(optimized)).Graph;
        var operators = graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(trained.Checkpoint.Architecture.ConvolutionCount, operators.Count(op => op == "QLinearConv"));
        Assert.DoesNotContain("Conv", operators);
    }

    [Fact]
    public void Qat_learns_frozen_ranges_and_its_export_matches_its_own_forward()
    {
        var options = new TrainingOptions
        {
            Depth = trained.Checkpoint.Architecture.Depth,
            Width = trained.Checkpoint.Architecture.Width,
            Train = new HighOnlyFolderSource(TestData.Samples),
            Validation = new HighOnlyFolderSource(Path.Combine(TestData.RepositoryRoot, "samples", "test")),
            QatFrom = trained.CheckpointPath,
            QatObserveIterations = 20,
            Iterations = 40,
            BatchSize = 8,
            PatchSize = 24,
            LearningRate = 1e-4,
            ValidateEvery = 0,
            Threads = 1,
        };
        var paths = new ExperimentPaths(trained.File("qat"), "qat");
        var result = new AbpnTrainer(options, paths, new DatasetLoader(trained.File("cache"))).Run(resume: false);
        var qat = AbpnCheckpoint.Load(paths.LastCheckpoint);
        Assert.NotNull(qat.Metadata.Quantization);
        Assert.True(qat.Metadata.Quantization!.Frozen);
        Assert.Equal(qat.Architecture.ConvolutionCount, qat.Metadata.Quantization.Ranges.Count);
        // Fake-quant validation stays near (or, for this briefly trained model, above) the float model's; a broken
        // QAT forward would lose several dB.
        var floatPsnr = AbpnTrainer.Validate(AbpnNetwork.FromCheckpoint(trained.Checkpoint),
            new DatasetLoader(trained.File("cache")).Load(options.Validation, 3), 3)[Metrics.PsnrY];
        Assert.True(result.LastValidation![Metrics.PsnrY] > floatPsnr - 0.5, $"QAT {result.LastValidation[Metrics.PsnrY]:F2} dB, float {floatPsnr:F2} dB");

        var path = trained.File("qat.int8.onnx");
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(qat.Architecture, qat.SeedWeights(), qat.Metadata.Quantization.TensorRanges()), path);
        using var network = AbpnNetwork.FromCheckpoint(qat);
        network.eval();
        using var engine = SrEngine.Load(path);
        AssertMatchesOrt(image => network.forward(SuperResolver.ToTensor(image)), engine, trained.Images.Take(3));
    }

    [Fact]
    public void Tiled_runs_equal_whole_image_runs()
    {
        using var network = AbpnNetwork.FromCheckpoint(trained.Checkpoint);
        var (path, _) = WritePtqModel("int8-tiles.onnx", network, trained.Images.Take(2).ToList());
        using var whole = SrEngine.Load(path);
        using var tiled = SrEngine.Load(path, new EngineOptions { TileSize = 37 });
        var image = trained.Images[0];
        Assert.Equal(whole.Upscale(image).Pixels, tiled.Upscale(image).Pixels);
    }
}
