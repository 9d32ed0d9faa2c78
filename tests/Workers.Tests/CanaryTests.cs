using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;

namespace SrMobile.Workers.Tests;

public class CanaryTests
{
    private static readonly LatencyProtocol Tiny = new() { Height = 24, Width = 32, Warmup = 1, MinRuns = 5, MinSeconds = 0, MaxSeconds = 10 };

    [Theory]
    [InlineData("uint8")]
    [InlineData("int8")]
    public void The_canary_is_the_same_graph_on_every_device_and_the_engine_runs_it(string activations)
    {
        using var work = TestData.NewTemporaryFolder();
        var first = CanaryModel.Write(work.File("a"), activations);
        var second = CanaryModel.Write(work.File("b"), activations);
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        using var engine = SrEngine.Load(first, new EngineOptions());
        engine.RunBlank(Tiny.Width, Tiny.Height);
        Assert.Contains(activations, CanaryModel.Signature(activations, Tiny));
        Assert.NotEqual(CanaryModel.Signature(activations, Tiny), CanaryModel.Signature(activations, Tiny with { Height = 48 }));
    }

    [Fact]
    public void A_run_noisier_than_the_limit_is_repeated_and_the_quietest_kept()
    {
        using var work = TestData.NewTemporaryFolder();
        var model = CanaryModel.Write(work.Path, ActivationTypes.UInt8);
        // No real run has a CoV of 0, so a limit of 0 always repeats, as often as allowed.
        var noisy = EngineRun.Execute(new EngineRequest("d", model, null, 3, Tiny, MaxCov: 0, MaxRepeats: 2));
        Assert.Equal(2, noisy.Repeats);
        Assert.InRange(noisy.Cov, double.Epsilon, 10);
        Assert.True(double.IsNaN(noisy.Psnr)); // no validation images: latency only
        var calm = EngineRun.Execute(new EngineRequest("d", model, null, 3, Tiny));
        Assert.Equal(0, calm.Repeats);
        Assert.Contains("\"cov\"", calm.ProtocolJson);
    }

    [Fact]
    public async Task The_measurer_runs_the_canary_of_its_activation_type_under_the_canary_protocol()
    {
        using var work = TestData.NewTemporaryFolder();
        var options = Options.Create(new DeviceOptions
        {
            ArtifactFolder = work.Path,
            Activations = ActivationTypes.Int8,
            Canary = new CanaryOptions { Height = 24, Width = 32, Warmup = 1, MinRuns = 5, MinSeconds = 0, MaxSeconds = 10 },
        });
        var run = (await new EngineMeasurer(new LocalArtifactStore(work.File("artifacts")), options).Canary(CancellationToken.None))!;
        Assert.True(run.MedianMs > 0);
        Assert.Equal(CanaryModel.Signature(ActivationTypes.Int8, options.Value.Canary.Protocol(1)), run.Signature);

        options.Value.Activations = "int4";
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => new EngineMeasurer(new LocalArtifactStore(work.File("artifacts")), options).Canary(CancellationToken.None));
        Assert.Contains("SrMobile:Device:Activations must be uint8 or int8, not 'int4'", refused.Message);
    }
}
