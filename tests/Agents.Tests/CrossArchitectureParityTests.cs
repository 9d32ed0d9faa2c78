using System.Diagnostics;
using System.Text.Json;
using SrMobile.Engine.Evaluation;
using SrMobile.Engine.Imaging;
using SrMobile.Engine.Metrics;
using SrMobile.Engine.Models;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;
using SrMobile.Workers;

namespace SrMobile.Agents.Tests;

/// <summary>
/// The same int8 graph on ONNX Runtime's ARM kernels (the published linux-arm64 agent's engine child, under qemu-user)
/// and on this machine's x86 kernels: the SR images agree on at least 99.9 % of pixels and never by more than one
/// level, for both activation types (uint8 for x86, int8 for ARM; docs/QUANTIZATION.md), each fitted to its own kernels
/// (<see cref="GraphFitting.Host"/>).
/// </summary>
public class CrossArchitectureParityTests
{
    [Theory]
    [InlineData(ActivationType.UInt8)]
    [InlineData(ActivationType.Int8)]
    public async Task The_arm64_engine_outputs_what_the_x86_engine_outputs_to_one_level(ActivationType activations)
    {
        using var work = TestData.NewTemporaryFolder();
        var architecture = new AbpnArchitecture(3, 2, 8);
        var model = work.File("model.int8.onnx");
        AbpnOnnxWriter.Save(AbpnOnnxWriter.Int8(architecture, RandomWeights(architecture, seed: 7), Ranges(architecture), activations), model);
        var images = work.File("images");
        Directory.CreateDirectory(images);
        foreach (var image in ImageFile.ListImages(Path.Combine(TestData.RepositoryRoot, "samples", "test")))
            ImageFile.WritePng(ImageFile.Read(image).Crop(150, 120, 96, 72), Path.Combine(images, Path.GetFileName(image)));

        // ARM: the agent's own engine child, exactly as it measures.
        var armOutputs = work.File("arm");
        var request = work.File("request.json");
        var result = work.File("result.json");
        var quick = new LatencyProtocol { Height = 16, Width = 16, Warmup = 0, MinRuns = 1, MinSeconds = 0, MaxSeconds = 60 };
        File.WriteAllText(request, JsonSerializer.Serialize(new EngineRequest("parity", model, images, 3, quick, armOutputs)));
        var command = Arm64.Isolated(AgentProcess.Launcher(arm64: true));
        var start = new ProcessStartInfo(command[0], [.. command.Skip(1), EngineRun.Verb, request, result]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var (key, value) in Arm64.Environment)
            start.Environment[key] = value;
        using (var process = Process.Start(start)!)
        {
            var errors = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await process.WaitForExitAsync(limit.Token);
            Assert.True(process.ExitCode == 0, $"the arm64 engine exited with {process.ExitCode}: {await errors}");
        }
        var measured = JsonSerializer.Deserialize<Contracts.DeviceMeasurement>(File.ReadAllText(result))!;
        Assert.Contains("Arm64", measured.ProtocolJson);
        // Each engine ran the graph fitted to its own kernels: the split DepthToSpace on ARM, padded channels too on x86.
        Assert.Contains($"\"graph_fit\":\"{GraphFitting.Format(GraphFit.Shuffle)}\"", measured.ProtocolJson);

        // x86: this process's engine on the same images.
        var x86Outputs = work.File("x86");
        using (var engine = SrEngine.Load(model))
            DatasetEvaluation.Run(images, 3, ProtocolKind.Y, "int8", engine.Upscale, x86Outputs);

        var outputs = Directory.GetFiles(x86Outputs, "*.png").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, outputs.Count);
        long pixels = 0, equal = 0;
        foreach (var x86 in outputs)
        {
            var a = ImageFile.Read(x86);
            var b = ImageFile.Read(Path.Combine(armOutputs, Path.GetFileName(x86)));
            Assert.Equal((a.Width, a.Height, a.Channels), (b.Width, b.Height, b.Channels));
            for (var i = 0; i < a.Pixels.Length; i++)
            {
                var difference = Math.Abs(a.Pixels[i] - b.Pixels[i]);
                Assert.True(difference <= 1, $"{Path.GetFileName(x86)}: value {i} differs by {difference} levels (x86 {a.Pixels[i]}, arm64 {b.Pixels[i]})");
                equal += difference == 0 ? 1 : 0;
            }
            pixels += a.Pixels.Length;
        }
        Assert.True(equal >= 0.999 * pixels, $"{equal} of {pixels} values identical ({100.0 * equal / pixels:F3} %), below 99.9 %");
    }

    /// <summary>Seeded weights of a trained network's scale: small kernels, so the residual is a few levels around the anchor.</summary>
    private static List<NamedTensor> RandomWeights(AbpnArchitecture architecture, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, architecture.ConvolutionCount).SelectMany(i =>
        {
            var (output, input) = architecture.ConvolutionChannels(i);
            return new[]
            {
                new NamedTensor(AbpnCheckpoint.WeightName(i), [output, input, 3, 3], [.. Enumerable.Range(0, output * input * 9).Select(_ => (float)(random.NextDouble() - 0.5) * 0.3f)]),
                new NamedTensor(AbpnCheckpoint.BiasName(i), [output], [.. Enumerable.Range(0, output).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f)]),
            };
        })];
    }

    private static List<TensorRange> Ranges(AbpnArchitecture architecture) =>
        [.. Enumerable.Range(0, architecture.ConvolutionCount).Select(i => i == architecture.ConvolutionCount - 1 ? new TensorRange(-0.5, 0.5) : new TensorRange(0, 2))];
}
