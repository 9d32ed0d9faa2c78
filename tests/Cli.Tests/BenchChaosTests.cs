using System.Text.Json;
using SrMobile.Cli.Commands;
using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Cli.Tests;

public class BenchChaosTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(200)]
    [InlineData(1_000)]
    public void The_chaos_grid_is_a_valid_spec_of_at_least_the_candidates_asked_for(int requested)
    {
        var (text, candidates) = BenchChaosCommand.Grid(requested);
        var (spec, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
        Assert.Empty(errors);
        Assert.Equal(candidates, spec!.CandidateCount);
        Assert.InRange(candidates, requested, requested + 20);
    }

    private static BenchChaosCommand.RunResult Result(string label, IReadOnlyList<ParetoPoint> front, int duplicates = 0, int lost = 0, int stuck = 0) =>
        new(label, 10, 4, 0, stuck, lost, duplicates, 4, 0, 0, front, []);

    [Fact]
    public void A_run_that_took_a_result_twice_lost_one_left_one_stuck_or_found_another_front_is_broken()
    {
        ParetoPoint[] front = [new("a", 30, 10), new("b", 31, 20)];
        Assert.Empty(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", [.. front.Reverse()])));
        Assert.Single(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", front, duplicates: 1)));
        Assert.Single(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", front, lost: 1)));
        Assert.Single(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", front, stuck: 1)));
        Assert.Single(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", [front[0], new("b", 31, 20.5)])));
        Assert.Single(BenchChaosCommand.Broken(Result("undisturbed", front), Result("chaos", [front[0]])));
    }

    [Fact]
    public async Task A_small_chaos_run_on_real_processes_survives_its_kills_and_finds_the_undisturbed_front()
    {
        await using var azurite = await Azurite.StartNew();
        var run = await CliRunner.Run("bench", "chaos", "--candidates", "6", "--chaos-seconds", "12", "--trainers", "1", "--devices", "1",
            "--connection-string", azurite.ConnectionString, "--json");
        Assert.True(run.ExitCode == 0, run.Out + run.Error);
        using var report = JsonDocument.Parse(run.Out);
        var root = report.RootElement;
        Assert.Equal(1, root.GetProperty("coordinator_kills").GetInt32());
        Assert.True(root.GetProperty("worker_kills").GetInt32() >= 1, run.Out);
        Assert.True(root.GetProperty("fronts_equal").GetBoolean());
        Assert.Equal(0, root.GetProperty("duplicates").GetInt32());
        Assert.Equal(0, root.GetProperty("lost").GetInt32());
        Assert.Equal(0, root.GetProperty("stuck").GetInt32());
        Assert.True(root.GetProperty("front_points").GetInt32() >= 1);
    }
}
