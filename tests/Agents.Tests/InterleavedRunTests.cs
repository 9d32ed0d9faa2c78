using SrMobile.Contracts;
using SrMobile.Engine.Onnx;
using SrMobile.Tests;
using SrMobile.Workers;

namespace SrMobile.Agents.Tests;

/// <summary>A front's confirmation as the agent runs it: several graphs interleaved in its engine child, one result each.</summary>
public class InterleavedRunTests
{
    [Fact]
    public async Task The_engine_child_measures_several_graphs_interleaved_and_answers_each_in_order()
    {
        using var work = TestData.NewTemporaryFolder();
        var first = CanaryModel.Write(work.File("first"), ActivationTypes.UInt8);
        var second = CanaryModel.Write(work.File("second"), ActivationTypes.UInt8);
        var quick = new LatencyProtocol { Height = 24, Width = 32, Warmup = 1, MinRuns = 4, MinSeconds = 0, MaxSeconds = 60 };
        var request = new EngineRequest("confirm", first, null, CanaryModel.Architecture.Scale, quick, Interleaved: [second, first]);

        var results = await EngineRun.Isolated<IReadOnlyList<LatencyResult>>(request, AgentProcess.Launcher(arm64: false), work.File("runs"),
            TimeSpan.FromMinutes(3), CancellationToken.None);

        Assert.Equal([second, first], results.Select(r => r.Model));
        // Run by run, A then B: both got every round.
        Assert.Equal(results[0].Runs, results[1].Runs);
        Assert.All(results, r => Assert.True(r.Runs >= 4 && r.MedianMs > 0 && double.IsFinite(r.Cov), $"{r.Model}: {r.Runs} runs, {r.MedianMs} ms, CoV {r.Cov}"));
        Assert.Empty(Directory.GetFiles(work.File("runs"))); // request and result files are removed
    }
}
