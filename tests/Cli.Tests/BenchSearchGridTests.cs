using SrMobile.Cli.Commands;
using SrMobile.Contracts;

namespace SrMobile.Cli.Tests;

public class BenchSearchGridTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(10_000)]
    [InlineData(25_600)]
    [InlineData(25_601)]
    [InlineData(250_000)]
    public void The_benchmark_grid_stays_within_every_field_bound_and_holds_at_least_the_candidates_asked_for(int requested)
    {
        var (text, candidates) = BenchSearchCommand.Grid(requested);
        // Without the configurable limits: the benchmark raises the candidate limit for its own grid.
        var (spec, errors) = SearchSpecReader.Parse(text, SpecLimits.None);
        Assert.Empty(errors);
        Assert.Equal(candidates, spec!.CandidateCount);
        Assert.InRange(candidates, requested, requested + (2 * 50 * 256));
    }
}
