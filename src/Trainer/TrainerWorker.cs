using Microsoft.Extensions.Options;
using SrMobile.Artifacts;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Workers;
using SrMobile.Training.Trainer;

namespace SrMobile.Trainer;

/// <summary>Trainer role settings (configuration section <c>SrMobile:Trainer</c>).</summary>
public sealed class TrainerOptions
{
    public const string Section = "SrMobile:Trainer";

    /// <summary>Candidate folders (checkpoints, ONNX files, records) live here.</summary>
    public string WorkFolder { get; set; } = Path.Combine(Environment.CurrentDirectory, ".srmobile", "work");

    public int Threads { get; set; }

    /// <summary>Jobs run side by side (1 for a GPU or a small CPU; more only for simulated work).</summary>
    public int Concurrency { get; set; } = 1;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the lease is renewed (at least three times per lease period, whatever this says).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often changed checkpoints go to the artifact store while a job trains (and once when it stops).</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a result or failure is retried while the coordinator does not answer.</summary>
    public TimeSpan ReportPatience { get; set; } = TimeSpan.FromMinutes(5);
    public string WorkerId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";
}

/// <summary>
/// The trainer role's hosted service: leases training jobs, tells the candidate it starts (and gets the spec and the
/// stored checkpoints of earlier attempts, which it restores when this machine lacks them), runs the
/// <see cref="ICandidateTrainer"/> (the real <see cref="CandidatePipeline"/>, or <see cref="SimulatedTrainer"/>) on a
/// worker thread while the <see cref="LeaseKeeper"/> heartbeats, stores changed checkpoints as it goes (keyed by the
/// lease's epoch, so a stale worker never overwrites the current one's), puts the artifacts into the
/// <see cref="IArtifactStore"/>, and reports the result to the candidate, which completes the lease.
/// </summary>
public sealed class TrainerWorker(
    IGrainFactory grains, ICandidateTrainer trainer, IArtifactStore artifacts, IOptions<TrainerOptions> options, ILogger<TrainerWorker> log,
    SrMobileMetrics metrics, MachineGate? gate = null)
    : LeasingWorker(grains, log, gate)
{
    protected override string Pool => CandidateSpec.TrainerPool;
    protected override string WorkerId => options.Value.WorkerId;
    protected override TimeSpan PollInterval => options.Value.PollInterval;
    protected override TimeSpan HeartbeatInterval => options.Value.HeartbeatInterval;
    protected override TimeSpan ReportPatience => options.Value.ReportPatience;
    protected override int Concurrency => options.Value.Concurrency;

    protected override async Task Work(JobLease lease, LeaseKeeper keeper, CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var candidate = Candidate(lease);
        var started = await Contained($"starting {lease.JobId}", () => candidate.TrainingStarted(lease), ReportPatience, keeper.Token);
        if (!Taken(started, lease, "the start"))
        {
            await Contained($"handing back {lease.JobId}", () => Grains.GetGrain<IWorkQueueGrain>(Pool).Release(lease.LeaseId, started?.Reason ?? "no answer"), TimeSpan.FromSeconds(10), CancellationToken.None);
            return;
        }
        var spec = started!.View!.Spec!;
        await Restore(started.View.Checkpoints ?? [], settings.WorkFolder, keeper.Token);
        Log.LogInformation("training {Candidate} (epoch {Epoch})", lease.Payload, lease.Epoch);

        var stage = "training";
        var reports = new List<Task>();
        (long Iteration, TimeSpan At)? lastStep = null;
        void Report(string newStage, TrainingProgress? progress)
        {
            // The rate between two reports of the same stage (a resumed job's first report has nothing before it).
            if (progress is { Iteration: > 0 } p)
            {
                if (lastStep is { } last && newStage == stage && p.Iteration > last.Iteration && clock.Elapsed > last.At)
                    metrics.TrainingRate(spec, stage, (p.Iteration - last.Iteration) / (clock.Elapsed - last.At).TotalSeconds);
                lastStep = (p.Iteration, clock.Elapsed);
            }
            if (newStage != stage)
            {
                stage = newStage;
                if (newStage == "quantizing")
                    reports.Add(Contained($"quantizing {lease.JobId}", () => candidate.QuantizingStarted(lease), ReportPatience, keeper.Token));
            }
            keeper.Report(new JobProgress(stage, progress?.Iteration ?? 0, progress is { Loss: var l } && double.IsFinite(l) ? l : 0,
                progress?.LastValidation?.GetValueOrDefault(Metrics.PsnrY)));
        }

        using var storing = CancellationTokenSource.CreateLinkedTokenSource(keeper.Token);
        var checkpoints = new CheckpointUploads(spec, lease);
        var storer = KeepStoring(checkpoints, settings, storing.Token);
        TrainedCandidate trained;
        try
        {
            trained = await Task.Run(() => trainer.Run(spec, Report, keeper.Token), CancellationToken.None);
        }
        catch (OperationCanceledException) when (keeper.Reason is StopReason.WorkerStopping or StopReason.Cancelled)
        {
            // Handed back: what it trained so far travels with the job.
            await storing.CancelAsync();
            await storer;
            await StoreChanged(checkpoints, settings.WorkFolder, TimeSpan.FromSeconds(10), CancellationToken.None);
            throw;
        }
        finally
        {
            await storing.CancelAsync();
            await storer;
            await Task.WhenAll(reports);
        }
        var result = trained with { Artifacts = await Store(trained.Artifacts, settings.WorkFolder, keeper.Token) };
        if (Taken(await Contained($"reporting {lease.JobId}", () => candidate.Trained(lease, result), ReportPatience, CancellationToken.None), lease, "the result"))
            metrics.Trained(spec, clock.Elapsed);
    }

    /// <summary>The files a resumed job needs, with what was last stored of each.</summary>
    private sealed class CheckpointUploads(CandidateSpec spec, JobLease lease)
    {
        public CandidateSpec Spec { get; } = spec;
        public JobLease Lease { get; } = lease;
        public Dictionary<string, (DateTime Written, long Length)> Stored { get; } = [];
    }

    private async Task KeepStoring(CheckpointUploads uploads, TrainerOptions settings, CancellationToken cancellation)
    {
        try
        {
            using var timer = new PeriodicTimer(settings.CheckpointInterval);
            while (await timer.WaitForNextTickAsync(cancellation))
                await StoreChanged(uploads, settings.WorkFolder, settings.ReportPatience, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Storing a checkpoint only saves a later attempt time; the training goes on without it.
            Log.LogWarning("storing the checkpoints of {Job} failed: {Error}", uploads.Lease.JobId, e.Message);
        }
    }

    /// <summary>Stores each resume file that changed since it was last stored, and tells the candidate where it is.</summary>
    private async Task StoreChanged(CheckpointUploads uploads, string workFolder, TimeSpan patience, CancellationToken cancellation)
    {
        foreach (var path in trainer.ResumeFiles(uploads.Spec))
        {
            var file = new FileInfo(path);
            if (!file.Exists || uploads.Stored.GetValueOrDefault(path) == (file.LastWriteTimeUtc, file.Length))
                continue;
            var relative = RelativeKey(path, workFolder);
            var put = await artifacts.Put("checkpoint", $"resume/{relative}.e{uploads.Lease.Epoch}", path, cancellation);
            var lease = uploads.Lease;
            if (!Taken(await Contained($"recording a checkpoint of {lease.JobId}", () => Candidate(lease).CheckpointStored(lease, new StoredFile(relative, put)), patience, cancellation), lease, "a checkpoint"))
                return;
            uploads.Stored[path] = (file.LastWriteTimeUtc, file.Length);
        }
    }

    /// <summary>
    /// Brings the stored checkpoints of earlier attempts to this machine, each SHA-256 checked, where it has none of
    /// its own (a file here is this machine's own, at least as far along as what it stored). A stored file that
    /// cannot be had is skipped: the job then trains from the start, which is slower, not wrong.
    /// </summary>
    private async Task Restore(IReadOnlyList<StoredFile> files, string workFolder, CancellationToken cancellation)
    {
        foreach (var file in files)
        {
            var destination = Path.GetFullPath(Path.Combine(workFolder, file.RelativePath));
            if (!destination.StartsWith(Path.GetFullPath(workFolder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new InvalidDataException($"stored checkpoint '{file.RelativePath}' points outside the work folder {workFolder}");
            if (File.Exists(destination))
                continue;
            try
            {
                var fetched = await artifacts.Fetch(file.Artifact, Path.Combine(workFolder, ".fetch"), cancellation);
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                var temporary = destination + ".fetching";
                File.Copy(fetched, temporary, overwrite: true);
                File.Move(temporary, destination, overwrite: true);
                Log.LogInformation("restored {File} from {Uri}", file.RelativePath, file.Artifact.Uri);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.LogWarning("cannot restore {File} from {Uri} ({Error}); training without it", file.RelativePath, file.Artifact.Uri, e.Message);
            }
        }
    }

    private static string RelativeKey(string path, string workFolder) =>
        Path.GetRelativePath(Path.GetFullPath(workFolder), path).Replace(Path.DirectorySeparatorChar, '/');
    /// <summary>
    /// The pipeline records its files where it wrote them; the store makes them reachable by the device roles (a blob
    /// in the azure storage kind), keyed by their place under the work folder.
    /// </summary>
    private async Task<IReadOnlyList<Artifact>> Store(IReadOnlyList<Artifact> written, string workFolder, CancellationToken cancellation)
    {
        var stored = new List<Artifact>(written.Count);
        foreach (var artifact in written)
        {
            var path = new Uri(artifact.Uri).LocalPath;
            var put = await artifacts.Put(artifact.Kind, RelativeKey(path, workFolder), path, cancellation);
            if (put.Sha256 != artifact.Sha256)
                throw new InvalidDataException($"{path} changed between training and storing it: SHA-256 {artifact.Sha256}, stored {put.Sha256}");
            stored.Add(put);
        }
        return stored;
    }
}
