using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class CandidateState
{
    [Id(0)] public CandidateSpec? Spec { get; set; }
    [Id(1)] public CandidateStage Stage { get; set; }

    /// <summary>How many leases started training (a resumed training counts again).</summary>
    [Id(2)] public int Attempts { get; set; }
    [Id(3)] public List<string> Errors { get; set; } = [];
    [Id(4)] public TrainedCandidate? Trained { get; set; }
    [Id(5)] public Dictionary<string, DeviceMeasurement> Measurements { get; set; } = [];

    /// <summary>How many times the stage changed: orders the news the search receives.</summary>
    [Id(6)] public int Version { get; set; }

    /// <summary>Per job: the newest lease epoch that started it (the fence).</summary>
    [Id(7)] public Dictionary<string, int> Epochs { get; set; } = [];

    /// <summary>Per job: the epoch whose outcome was taken (a retried report of it is accepted again, not stored twice).</summary>
    [Id(8)] public Dictionary<string, int> Taken { get; set; } = [];

    /// <summary>Per job: failures of the work itself (the retry rule's count).</summary>
    [Id(9)] public Dictionary<string, int> Failures { get; set; } = [];
    [Id(10)] public List<StoredFile> Checkpoints { get; set; } = [];
    [Id(11)] public DateTimeOffset StageSinceUtc { get; set; }
}

/// <summary>The one retry rule of every candidate job (configuration section <c>SrMobile:Candidate</c>).</summary>
public sealed class CandidateOptions
{
    public const string Section = "SrMobile:Candidate";

    /// <summary>Attempts in all for a job whose work failed for a passing reason (bad input fails at once).</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>A job whose lease expired this many times (its workers keep dying) fails its candidate.</summary>
    public int MaxLostLeases { get; set; } = 3;
}

/// <summary>See <see cref="ICandidateGrain"/>.</summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class CandidateGrain(
    [PersistentState("candidate", WorkQueueGrain.StorageName)] IPersistentState<CandidateState> state,
    IOptions<CandidateOptions> options,
    ILogger<CandidateGrain> log,
    SrMobileMetrics metrics) : Grain, ICandidateGrain
{
    private CandidateState S => state.State;
    private bool Final => S.Stage is CandidateStage.Done or CandidateStage.Failed or CandidateStage.Cancelled;

    public async Task Initialize(CandidateSpec spec)
    {
        if (spec.Key != this.GetPrimaryKeyString())
            throw new ArgumentException($"candidate {this.GetPrimaryKeyString()} cannot take the spec of {spec.Key}");
        if (S.Spec is null)
        {
            S.Spec = spec;
            await Persist(CandidateStage.Queued);
        }
        // Enqueue is idempotent per job id: a second Initialize repairs a crash between the two writes.
        if (S.Stage == CandidateStage.Queued)
            await Queue(CandidateSpec.TrainerPool).Enqueue(new WorkItem(spec.TrainingJobId, spec.Priority, spec.Key));
        LeaveIfIdle();
    }

    public async Task<Verdict> TrainingStarted(JobLease lease)
    {
        if (await Refusal(lease, starting: true) is { } refused)
            return refused;
        if (S.Stage >= CandidateStage.Measuring)
            return Refuse(lease, $"candidate is already {S.Stage}");
        if (lease.Epoch > S.Epochs.GetValueOrDefault(lease.JobId))
        {
            S.Epochs[lease.JobId] = lease.Epoch;
            S.Attempts++;
            await Persist(CandidateStage.Training);
        }
        return new Verdict(true, null, View());
    }

    public async Task<Verdict> QuantizingStarted(JobLease lease)
    {
        if (await Refusal(lease) is { } refused)
            return refused;
        if (S.Stage == CandidateStage.Training)
            await Persist(CandidateStage.Quantizing);
        return new Verdict(true, null);
    }

    public async Task<Verdict> CheckpointStored(JobLease lease, StoredFile file)
    {
        if (await Refusal(lease) is { } refused)
            return refused;
        S.Checkpoints.RemoveAll(f => f.RelativePath == file.RelativePath);
        S.Checkpoints.Add(file);
        await Persist(S.Stage);
        return new Verdict(true, null);
    }

    public async Task<Verdict> Trained(JobLease lease, TrainedCandidate result)
    {
        if (S.Trained is not null && S.Taken.GetValueOrDefault(lease.JobId) == lease.Epoch)
            return new Verdict(true, "already taken from this lease");
        if (await Refusal(lease) is { } refused)
            return refused;
        if (S.Stage is not (CandidateStage.Training or CandidateStage.Quantizing))
            return Refuse(lease, $"candidate is {S.Stage}, not training");
        if (!double.IsFinite(result.Int8Psnr) || result.Int8Psnr <= 0)
            return Refuse(lease, $"int8 PSNR {result.Int8Psnr} is not a positive number");
        var ended = await Queue(CandidateSpec.TrainerPool).Complete(lease.LeaseId, $"trained: int8 {result.Int8Psnr:F3} dB");
        if (!ended.Accepted)
            return Refuse(lease, ended.Reason!);
        S.Trained = result;
        S.Taken[lease.JobId] = lease.Epoch;
        var spec = S.Spec!;
        await Persist(spec.Devices.Count == 0 ? CandidateStage.Done : CandidateStage.Measuring);
        Took(lease);
        metrics.Int8Psnr(spec, result.Int8Psnr);
        // A crash before these enqueues is repaired (Repair enqueues the missing measurement jobs).
        await EnqueuePendingMeasurements();
        return new Verdict(true, null);
    }

    public async Task<Verdict> MeasurementStarted(JobLease lease)
    {
        if (await Refusal(lease, starting: true) is { } refused)
            return refused;
        if (lease.Epoch > S.Epochs.GetValueOrDefault(lease.JobId))
        {
            S.Epochs[lease.JobId] = lease.Epoch;
            await Persist(S.Stage);
        }
        return new Verdict(true, null, View());
    }

    /// <summary>How far a device's own int8 PSNR may be from the trainer's int8 evaluation before the candidate flags it.</summary>
    public const double MaxDevicePsnrDifference = 0.01;

    public async Task<Verdict> Measured(JobLease lease, DeviceMeasurement measurement)
    {
        if (S.Taken.GetValueOrDefault(lease.JobId) == lease.Epoch && S.Measurements.ContainsKey(measurement.Device))
            return new Verdict(true, "already taken from this lease");
        if (await Refusal(lease) is { } refused)
            return refused;
        var spec = S.Spec!;
        if (lease.JobId != spec.MeasurementJobId(measurement.Device))
            return Refuse(lease, $"a measurement of {measurement.Device} under the lease of {lease.JobId}");
        if (!double.IsFinite(measurement.MedianMs) || measurement.MedianMs <= 0 || !double.IsFinite(measurement.Psnr) || measurement.Psnr <= 0)
            return Refuse(lease, $"measurement {measurement.MedianMs} ms, {measurement.Psnr} dB is not a pair of positive numbers");
        var ended = await Queue(CandidateSpec.DevicePool(measurement.Device)).Complete(lease.LeaseId, FormattableString.Invariant($"{measurement.MedianMs:F3} ms"));
        if (!ended.Accepted)
            return Refuse(lease, ended.Reason!);
        S.Measurements[measurement.Device] = measurement;
        S.Taken[lease.JobId] = lease.Epoch;
        metrics.Measured(measurement.Device, measurement.MedianMs);
        var withinLimit = WithinLimit(measurement, out var limit);
        if (!withinLimit)
            S.Errors.Add(FormattableString.Invariant($"{measurement.Device}: {measurement.MedianMs:F2} ms exceeds the constraint of {limit} ms; not on its Pareto front"));
        // The device scored its own int8 output on the trainer's validation images: beyond rounding, the engines differ.
        // Against the trainer's evaluation of the same graph (the device may measure the int8-activation one).
        if (S.Trained?.Int8PsnrOf(measurement.Activations) is { } expected && Math.Abs(measurement.Psnr - expected) > MaxDevicePsnrDifference)
            S.Errors.Add(FormattableString.Invariant($"{measurement.Device}: on-device int8 PSNR {measurement.Psnr:F3} dB ({measurement.Activations} activations) differs from the trainer's int8 evaluation {expected:F3} dB by {Math.Abs(measurement.Psnr - expected):F3} dB (more than {MaxDevicePsnrDifference} dB)"));
        await Persist(spec.Devices.All(S.Measurements.ContainsKey) ? CandidateStage.Done : CandidateStage.Measuring);
        Took(lease);
        // A crash before this report is repaired: Repair reports every stored measurement again (reports are idempotent).
        if (withinLimit)
            await ReportToFront(measurement);
        return new Verdict(true, null);
    }

    public async Task<Verdict> WorkFailed(JobLease lease, string error, bool retryable)
    {
        if (await Refusal(lease) is { } refused)
            return refused;
        var failures = S.Failures[lease.JobId] = S.Failures.GetValueOrDefault(lease.JobId) + 1;
        var retry = retryable && failures < options.Value.MaxAttempts;
        var ended = await Queue(PoolOf(lease.JobId)).Fail(lease.LeaseId, error, retry);
        if (!ended.Accepted)
        {
            S.Failures[lease.JobId] = failures - 1;
            return Refuse(lease, ended.Reason!);
        }
        metrics.Error(retryable ? "work_failed" : "bad_input");
        if (retry)
        {
            S.Errors.Add($"{lease.JobId} (epoch {lease.Epoch}, failure {failures} of {options.Value.MaxAttempts}): {error}; queued again");
            await Persist(S.Stage is CandidateStage.Training or CandidateStage.Quantizing ? CandidateStage.Queued : S.Stage);
        }
        else
        {
            await FailWith(retryable ? $"{lease.JobId}: failed {failures} times, the last: {error}" : $"{lease.JobId}: {error}");
        }
        return new Verdict(true, null);
    }

    public async Task LeaseLost(string jobId, int epoch, int lostLeases, string reason)
    {
        if (S.Spec is null || Final || !CurrentJobs().Contains(jobId))
            return;
        metrics.Error("lease_lost");
        if (lostLeases >= options.Value.MaxLostLeases)
        {
            await FailWith($"{jobId}: lost {lostLeases} leases (its workers stopped answering), the last: {reason}");
            return;
        }
        S.Errors.Add($"{jobId}: {reason}; queued again ({lostLeases} of {options.Value.MaxLostLeases} lost leases)");
        await Persist(S.Stage is CandidateStage.Training or CandidateStage.Quantizing ? CandidateStage.Queued : S.Stage);
    }

    public async Task Cancel(string reason)
    {
        if (S.Spec is null || Final)
            return;
        var jobs = CurrentJobs();
        S.Errors.Add($"{S.Stage} → cancelled: {reason}");
        await Persist(CandidateStage.Cancelled);
        await CancelJobs(jobs);
    }

    public async Task DeviceTimedOut(string device, TimeSpan waited)
    {
        if (S.Stage == CandidateStage.Measuring && View().PendingDevices.Contains(device))
        {
            metrics.Error("device_timeout");
            await FailWith(FormattableString.Invariant($"no worker of device key '{device}' took its measurement within the spec's device_timeout ({waited.TotalSeconds:F0} s waited)"));
        }
    }

    public async Task<CandidateView> Repair()
    {
        var spec = S.Spec;
        if (spec is null)
            return View();
        LeaveIfIdle();
        if (S.Stage is CandidateStage.Queued or CandidateStage.Training or CandidateStage.Quantizing)
            await Queue(CandidateSpec.TrainerPool).Enqueue(new WorkItem(spec.TrainingJobId, spec.Priority, spec.Key));
        if (S.Stage == CandidateStage.Measuring)
            await EnqueuePendingMeasurements();
        if (S.Stage is CandidateStage.Measuring or CandidateStage.Done)
            foreach (var measurement in S.Measurements.Values.Where(m => WithinLimit(m, out _)))
                await ReportToFront(measurement);
        return View();
    }

    public Task<CandidateView> Get()
    {
        LeaveIfIdle();
        return Task.FromResult(View());
    }

    /// <summary>
    /// A finished candidate is only read, and a queued one waits until a worker leases its job, which may be much later
    /// in a large grid: either leaves memory after the call (a 100,000-candidate search would keep them all).
    /// </summary>
    private void LeaveIfIdle()
    {
        if (Final || S.Stage == CandidateStage.Queued)
            DeactivateOnIdle();
    }

    private CandidateView View() => new(
        this.GetPrimaryKeyString(), S.Stage, S.Attempts, [.. S.Errors], S.Spec, S.Trained, [.. S.Measurements.Values], S.Version,
        [.. S.Checkpoints], S.StageSinceUtc);

    /// <summary>
    /// Why a report under <paramref name="lease"/> is refused, or null when it comes from the current lease of a job
    /// of the current stage (<paramref name="starting"/>: or from a newer one, which becomes current).
    /// </summary>
    private async Task<Verdict?> Refusal(JobLease lease, bool starting = false)
    {
        if (S.Spec is null || lease.Payload != this.GetPrimaryKeyString() || !OwnsJob(lease.JobId))
            return Refuse(lease, "no such candidate or job");
        if (Final)
        {
            // Nothing is left to do: the job ends at the worker's hand-back.
            await Queue(PoolOf(lease.JobId)).Cancel(lease.JobId);
            return Refuse(lease, $"candidate is {S.Stage}");
        }
        if (!CurrentJobs().Contains(lease.JobId))
            return Refuse(lease, $"{lease.JobId} is not a job of its {S.Stage} stage");
        var current = S.Epochs.GetValueOrDefault(lease.JobId);
        if (starting ? lease.Epoch < current : lease.Epoch != current)
            return Refuse(lease, $"stale lease: epoch {lease.Epoch}, the job's current epoch is {current}");
        return null;
    }

    /// <summary>One line per result stored, after it is stored: what an operator (and the chaos benchmark) counts to see nothing is taken twice.</summary>
    private void Took(JobLease lease) =>
        log.LogInformation("{Candidate}: took the result of {Job} from epoch {Epoch} ({Worker})", this.GetPrimaryKeyString(), lease.JobId, lease.Epoch, lease.WorkerId);

    private Verdict Refuse(JobLease lease, string reason)
    {
        metrics.ReportRefused(CandidateSpec.PoolOfJob(lease.JobId));
        log.LogWarning("{Candidate}: refused a report of {Job} under the lease of epoch {Epoch} ({Worker}): {Reason}",
            this.GetPrimaryKeyString(), lease.JobId, lease.Epoch, lease.WorkerId, reason);
        return Verdict.Refused(reason);
    }

    /// <summary>The jobs the current stage waits on: the training job, or the measurements not yet taken.</summary>
    private IReadOnlyList<string> CurrentJobs() => S.Stage switch
    {
        CandidateStage.Queued or CandidateStage.Training or CandidateStage.Quantizing => [S.Spec!.TrainingJobId],
        CandidateStage.Measuring => [.. View().PendingDevices.Select(S.Spec!.MeasurementJobId)],
        _ => [],
    };

    private async Task FailWith(string reason)
    {
        var jobs = CurrentJobs();
        S.Errors.Add($"{S.Stage} → failed: {reason}");
        await Persist(CandidateStage.Failed);
        await CancelJobs(jobs);
    }

    private Task CancelJobs(IEnumerable<string> jobs) => Task.WhenAll(jobs.Select(job => Queue(PoolOf(job)).Cancel(job)));

    private Task EnqueuePendingMeasurements()
    {
        var spec = S.Spec!;
        return Task.WhenAll(View().PendingDevices.Select(device =>
            Queue(CandidateSpec.DevicePool(device)).Enqueue(new WorkItem(spec.MeasurementJobId(device), spec.Priority, spec.Key))));
    }

    private bool WithinLimit(DeviceMeasurement measurement, out double limit) =>
        !S.Spec!.MaxMilliseconds.TryGetValue(measurement.Device, out limit) || measurement.MedianMs <= limit;

    private Task ReportToFront(DeviceMeasurement measurement) =>
        GrainFactory.GetGrain<IParetoGrain>(S.Spec!.ParetoKey(measurement.Device)).Report(new ParetoPoint(S.Spec.Key, measurement.Psnr, measurement.MedianMs));

    private bool OwnsJob(string jobId) => jobId == S.Spec!.TrainingJobId || S.Spec.Devices.Any(d => S.Spec.MeasurementJobId(d) == jobId);

    private string PoolOf(string jobId)
    {
        var spec = S.Spec!;
        return jobId == spec.TrainingJobId ? CandidateSpec.TrainerPool
            : spec.Devices.FirstOrDefault(d => spec.MeasurementJobId(d) == jobId) is { } device ? CandidateSpec.DevicePool(device)
            : throw new ArgumentException($"{jobId} is no job of candidate {spec.Key}");
    }

    private IWorkQueueGrain Queue(string pool) => GrainFactory.GetGrain<IWorkQueueGrain>(pool);

    /// <summary>Stores the state at <paramref name="stage"/>, then tells the search; a failed write deactivates, so memory never runs ahead of storage.</summary>
    private async Task Persist(CandidateStage stage)
    {
        var changed = stage != S.Stage || S.Version == 0;
        S.Stage = stage;
        if (changed)
        {
            S.Version++;
            S.StageSinceUtc = DateTimeOffset.UtcNow;
        }
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            metrics.Error("storage");
            DeactivateOnIdle();
            throw;
        }
        if (changed)
            await GrainFactory.GetGrain<ISearchGrain>(S.Spec!.SearchName).StageChanged(this.GetPrimaryKeyString(), stage, S.Version);
        LeaveIfIdle();
    }
}
