using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SrMobile.Hosting;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;
using SrMobile.Trainer;
using SrMobile.Tests;

namespace SrMobile.Silo.Tests;

/// <summary>
/// Primary coordinates (with the roles of <c>Test:PrimaryRoles</c>, comma-separated, when set); every other silo is a
/// trainer named after itself, all sharing one work folder and one artifact folder; each owns its data folder.
/// </summary>
internal sealed class CoordinatorAndTrainers : ISiloConfigurator
{
    public void Configure(ISiloBuilder silo)
    {
        var name = silo.Configuration["Orleans:Name"]!;
        var primary = silo.Configuration["Test:PrimaryRoles"]?.Split(',') ?? [SiloRoles.Coordinator];
        silo.AddSrMobileRoles(silo.Configuration, name == "Primary" ? primary : [SiloRoles.Trainer], SiloTestCluster.DataFolder(silo));
        silo.Services.PostConfigure<TrainerOptions>(o => o.WorkerId = name);
    }
}

/// <summary>One silo with every role (the embedded one-machine cluster).</summary>
internal sealed class EveryRole : ISiloConfigurator
{
    public void Configure(ISiloBuilder silo) =>
        silo.AddSrMobileRoles(silo.Configuration, [SiloRoles.Coordinator, SiloRoles.Trainer, SiloRoles.Device], SiloTestCluster.DataFolder(silo));
}

/// <summary>Shared setup of the silo tests: a TestingHost cluster with fast polling and one tiny submitted search.</summary>
internal static class SiloTestCluster
{
    /// <summary>The silo's own data folder (one silo owns a folder of the local storage kind), kept across its restarts.</summary>
    public static string DataFolder(ISiloBuilder silo) => Path.Combine(silo.Configuration["Test:StateFolder"]!, silo.Configuration["Orleans:Name"]!);

    public static async Task<TestCluster> Start<TConfigurator>(TemporaryFolder work, int silos, params (string Key, string Value)[] settings)
        where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder { Options = { InitialSilosCount = (short)silos } };
        builder.Properties["Test:StateFolder"] = work.File("state");
        builder.Properties["SrMobile:Storage:ArtifactFolder"] = work.File("artifacts");
        builder.Properties["SrMobile:Trainer:WorkFolder"] = work.File("work");
        builder.Properties["SrMobile:Trainer:Threads"] = "1";
        builder.Properties["SrMobile:Trainer:PollInterval"] = "00:00:00.2";
        builder.Properties["SrMobile:Device:PollInterval"] = "00:00:00.2";
        // The specs name the bundled photos (in the repository) and folders of the test's own (missing ones, on purpose).
        builder.Properties["SrMobile:DataRoots:0"] = TestData.RepositoryRoot;
        builder.Properties["SrMobile:DataRoots:1"] = work.Path;
        foreach (var (key, value) in settings)
            builder.Properties[key] = value;
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Submits a one-candidate ×3 search on the bundled photos and returns the candidate's key.</summary>
    public static async Task<string> SubmitOneCandidate(TestCluster cluster, string name, int depth, int width, string training)
    {
        var spec = $$"""
            name: {{name}}
            scales: [3]
            depths: [{{depth}}]
            widths: [{{width}}]
            quantization: [{kind: ptq, calibration_images: 2}]
            training: {{training}}
            datasets: {train: "{{TestData.Samples}}", validation: "{{Path.Combine(TestData.RepositoryRoot, "samples", "test")}}"}
            devices: [local]
            protocol: {input: 36x64, warmup: 1, min_runs: 3, min_seconds: 0}
            """;
        var submitted = await cluster.GrainFactory.GetGrain<ISearchGrain>(name).Submit(spec);
        Assert.True(submitted.Accepted, string.Join("; ", submitted.Errors));
        await SearchExpansion.Expanded(cluster.GrainFactory.GetGrain<ISearchGrain>(name));
        var (parsed, _) = SearchSpecReader.Parse(spec);
        return SearchGrid.Expand(parsed!).Single().Key;
    }

    /// <summary>Polls the candidate until it reaches <paramref name="stage"/> (or fails), within a deadline generous for a loaded CI machine.</summary>
    public static async Task<CandidateView> WaitFor(ICandidateGrain candidate, CandidateStage stage)
    {
        var deadline = DateTime.UtcNow.AddMinutes(8);
        CandidateView view;
        while ((view = await candidate.Get()).Stage != stage && view.Stage != CandidateStage.Failed && DateTime.UtcNow < deadline)
            await Task.Delay(250);
        Assert.True(view.Stage == stage, $"stage {view.Stage}: {string.Join("; ", view.Errors)}");
        return view;
    }

    /// <summary>
    /// Polls the job until it is <paramref name="status"/>: a trainer records its result with the candidate before it
    /// completes the lease, so a candidate seen measuring may still have its training job leased for a moment.
    /// </summary>
    public static async Task<JobView> WaitFor(IWorkQueueGrain queue, string jobId, JobStatus status)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JobView? job;
        while ((job = await queue.Get(jobId))?.Status != status && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.True(job?.Status == status, $"job {jobId} is {job?.Status.ToString() ?? "missing"}");
        return job!;
    }
}
