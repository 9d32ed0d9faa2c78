using System.Diagnostics;
using SrMobile.Contracts;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>Workers against the real grains: heartbeats from a timer for the whole job, and cancel reaching running work.</summary>
public class LeaseLifecycleTests
{
    private const string Spec = """
        name: long
        scales: [3]
        depths: [1]
        widths: [8]
        quantization: [{kind: ptq}]
        datasets: {train: simulated}
        devices: [local]
        """;

    [Fact]
    public async Task Work_that_outlasts_its_lease_many_times_over_in_every_stage_finishes_exactly_once()
    {
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<EveryRole>(work, 1,
            ("SrMobile:Simulate", "true"),
            ("SrMobile:WorkQueue:LeaseDuration", "00:00:02"),
            ("SrMobile:WorkQueue:ExpiryCheckPeriod", "00:00:00.2"),
            ("SrMobile:Simulated:TrainingTime", "00:00:10"),
            ("SrMobile:Simulated:MeasurementTime", "00:00:10"));
        var search = cluster.GrainFactory.GetGrain<ISearchGrain>("long");
        Assert.True((await search.Submit(Spec)).Accepted);
        var candidate = SearchGrid.Expand(SearchSpecReader.Parse(Spec).Spec!).Single();

        var view = await SiloTestCluster.WaitFor(cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key), CandidateStage.Done);
        Assert.Equal(1, view.Attempts);
        Assert.Empty(view.Errors);
        var training = (await cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Get(candidate.TrainingJobId))!;
        var measuring = (await cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool("local")).Get(candidate.MeasurementJobId("local")))!;
        Assert.Equal((JobStatus.Completed, 1, 0), (training.Status, training.Epoch, training.LostLeases));
        Assert.Equal((JobStatus.Completed, 1, 0), (measuring.Status, measuring.Epoch, measuring.LostLeases));
        Assert.Single((await cluster.GrainFactory.GetGrain<IParetoGrain>(candidate.ParetoKey("local")).Get()).All);
    }

    [Fact]
    public async Task Cancel_during_training_stops_the_trainers_work_within_a_heartbeat_period()
    {
        var heartbeat = TimeSpan.FromSeconds(1);
        using var work = TestData.NewTemporaryFolder();
        await using var cluster = await SiloTestCluster.Start<EveryRole>(work, 1,
            ("SrMobile:Simulate", "true"),
            ("SrMobile:Trainer:HeartbeatInterval", heartbeat.ToString()),
            ("SrMobile:Simulated:TrainingTime", "00:05:00"));
        var search = cluster.GrainFactory.GetGrain<ISearchGrain>("long");
        Assert.True((await search.Submit(Spec)).Accepted);
        var candidate = SearchGrid.Expand(SearchSpecReader.Parse(Spec).Spec!).Single();
        var trainers = cluster.GrainFactory.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool);
        await SiloTestCluster.WaitFor(cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key), CandidateStage.Training);
        await SiloTestCluster.WaitFor(trainers, candidate.TrainingJobId, JobStatus.Leased);

        var clock = Stopwatch.StartNew();
        await search.Cancel();
        var job = await SiloTestCluster.WaitFor(trainers, candidate.TrainingJobId, JobStatus.Cancelled);
        // One beat to hear of it, then the hand-back; the slack is for a loaded machine.
        Assert.True(clock.Elapsed < heartbeat + TimeSpan.FromSeconds(2), $"the work stopped after {clock.Elapsed}");
        Assert.Contains(job.Errors, e => e.Contains("handed back") && e.Contains("cancelled"));
        Assert.Equal(CandidateStage.Cancelled, (await cluster.GrainFactory.GetGrain<ICandidateGrain>(candidate.Key).Get()).Stage);
        Assert.True((await search.Status()).Finished);
    }
}
