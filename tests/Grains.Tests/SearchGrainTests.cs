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
        var queue = fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool);
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
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool).Summary();
        var again = await search.Submit(Spec(name));
        Assert.True(again.Accepted);
        Assert.False(again.Created);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool).Summary());
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
        var before = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool).Summary();
        var result = await search.Submit(Spec(name).Replace("scales: [3]", "scales: [5]").Replace("devices: [local]", "devices: []"));
        Assert.False(result.Accepted);
        Assert.Equal(["scales[0]", "devices"], result.Errors.Select(e => e.Field));
        var status = await search.Status();
        Assert.False(status.Submitted);
        Assert.Empty(status.Stages);
        Assert.Equal(0, status.Candidates);
        Assert.Equal(before, await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateGrain.TrainerPool).Summary());
    }

    [Fact]
    public async Task Candidates_follow_their_state_machine_and_cancel_stops_the_unfinished()
    {
        var name = NewName();
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        await search.Submit(Spec(name));
        await SearchExpansion.Expanded(search);
        var (spec, _) = SearchSpecReader.Parse(Spec(name));
        var keys = SearchGrain.Expand(spec!).Select(c => c.Key).ToList();
        var first = fixture.Grains.GetGrain<ICandidateGrain>(keys[0]);
        Assert.False(await first.MoveTo(CandidateStage.Done)); // queued → done is not an edge
        foreach (var stage in new[] { CandidateStage.Training, CandidateStage.Quantizing, CandidateStage.Measuring, CandidateStage.Done })
            Assert.True(await first.MoveTo(stage));
        var second = fixture.Grains.GetGrain<ICandidateGrain>(keys[1]);
        Assert.True(await second.MoveTo(CandidateStage.Training));
        Assert.True(await second.MoveTo(CandidateStage.Queued, "lease lost"));
        Assert.Equal(1, (await second.Get()).Attempts);
        Assert.Contains("lease lost", (await second.Get()).Errors.Single());

        await search.Cancel();
        var status = await search.Status();
        Assert.Equal(1, status.Stages[CandidateStage.Done]);
        Assert.Equal(7, status.Stages[CandidateStage.Cancelled]);
        Assert.False(await second.MoveTo(CandidateStage.Training));
    }

    [Fact]
    public async Task A_trained_candidate_is_measured_per_device_and_only_points_within_the_constraint_reach_the_front()
    {
        var name = NewName();
        var text = Spec(name, widths: "[8]").Replace("quantization: [{kind: ptq}, {kind: qat}]", "quantization: [{kind: ptq}]")
            .Replace("devices: [local]", "devices: [local, tv]\nconstraints: {max_ms: {tv: 50}}");
        var search = fixture.Grains.GetGrain<ISearchGrain>(name);
        Assert.True((await search.Submit(text)).Accepted);
        await SearchExpansion.Expanded(search);
        var (spec, _) = SearchSpecReader.Parse(text);
        var candidates = SearchGrain.Expand(spec!).ToList();
        Assert.Equal(2, candidates.Count); // depths 1 and 2

        foreach (var (candidate, milliseconds) in candidates.Zip([30.0, 80.0]))
        {
            var grain = fixture.Grains.GetGrain<ICandidateGrain>(candidate.Key);
            Assert.False(await grain.RecordTrained(new TrainedCandidate(30, 29.9, 0.9, 10, []))); // not quantizing yet
            Assert.True(await grain.MoveTo(CandidateStage.Training));
            Assert.True(await grain.MoveTo(CandidateStage.Quantizing));
            Assert.True(await grain.RecordTrained(new TrainedCandidate(30, 29.9, 0.9, 10, [])));
            foreach (var device in new[] { "local", "tv" })
            {
                var job = await fixture.Grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(device)).Get(candidate.MeasurementJobId(device));
                Assert.Equal(JobStatus.Queued, job!.Status);
            }
            Assert.False(await grain.RecordMeasurement(new DeviceMeasurement("tv", double.NaN, 1, 1, "e", 29.9, 0.9, "{}")));
            Assert.False(await grain.RecordMeasurement(new DeviceMeasurement("phone", 10, 11, 1, "e", 29.9, 0.9, "{}"))); // not a target
            Assert.True(await grain.RecordMeasurement(new DeviceMeasurement("tv", milliseconds, milliseconds, 5, "e", 29.9, 0.9, "{}")));
            Assert.Equal(CandidateStage.Measuring, (await grain.Get()).Stage);
            Assert.True(await grain.RecordMeasurement(new DeviceMeasurement("local", milliseconds, milliseconds, 5, "e", 29.9, 0.9, "{}")));
            Assert.Equal(CandidateStage.Done, (await grain.Get()).Stage);
        }

        var tv = await fixture.Grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey("tv")).Get();
        Assert.Equal([candidates[0].Key], tv.All.Select(p => p.CandidateKey));
        Assert.Equal(2, (await fixture.Grains.GetGrain<IParetoGrain>(candidates[0].ParetoKey("local")).Get()).All.Count);
        Assert.Contains("exceeds the constraint of 50 ms", (await fixture.Grains.GetGrain<ICandidateGrain>(candidates[1].Key).Get()).Errors.Single());
        Assert.Equal(2, (await search.Status()).Stages[CandidateStage.Done]);
    }
}
