using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

public class SearchGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static string Spec(string name, string widths = "[8, 16]") => $$"""
        name: {{name}}
        scales: [3]
        depths: [1, 2]
        widths: {{widths}}
        quantization: [{kind: ptq}, {kind: qat}]
        datasets: {train: data/train}
        devices: [local]
        """;

    private static string NewName() => $"s-{Guid.NewGuid():N}"[..20];

    [Fact]
    public async Task Submitting_expands_the_grid_and_enqueues_one_training_job_per_candidate()
    {
        var name = NewName();
        var result = await fixture.Grains.GetGrain<ISearchGrain>(name).Submit(Spec(name));
        Assert.True(result.Accepted);
        Assert.True(result.Created);
        Assert.Equal(8, result.Candidates);
        var status = await SearchExpansion.Expanded(fixture.Grains.GetGrain<ISearchGrain>(name));
        Assert.Equal(8, status.Stages[CandidateStage.Queued]);
        var queue = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        var (spec, _) = SearchSpecReader.Parse(Spec(name));
        foreach (var candidate in SearchGrain.Expand(spec!))
            Assert.Equal(JobStatus.Queued, (await queue.Get(candidate.TrainingJobId))!.Status);
    }

    [Fact]
    public async Task Submitting_the_same_spec_twice_is_idempotent()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        await search.Submit(Spec(name));
        await SearchExpansion.Expanded(search);
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
        var again = await search.Submit(Spec(name));
        Assert.True(again.Accepted);
        Assert.False(again.Created);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary());
        Assert.Equal(8, (await SearchExpansion.Expanded(search)).Stages.Values.Sum());

        var other = await search.Submit(Spec(name, widths: "[32]"));
        Assert.False(other.Accepted);
        Assert.Contains("exists with another spec", other.Errors.Single().Message);
    }

    [Fact]
    public async Task An_invalid_spec_returns_all_its_errors_and_creates_nothing()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary();
        var result = await search.Submit(Spec(name).Replace("scales: [3]", "scales: [5]").Replace("devices: [local]", "devices: []"));
        Assert.False(result.Accepted);
        Assert.Equal(["scales[0]", "devices"], result.Errors.Select(e => e.Field));
        var status = await search.Status();
        Assert.False(status.Submitted);
        Assert.Empty(status.Stages);
        Assert.Equal(0, status.Candidates);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Summary());
    }
}
