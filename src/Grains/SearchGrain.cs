using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SrMobile.Contracts;
using SrMobile.Contracts.Telemetry;
using SrMobile.Grains.Placement;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class SearchState
{
    [Id(0)] public string? SpecText { get; set; }
    [Id(1)] public string? SpecHash { get; set; }
    // Id 2 held the candidate keys; they follow from the spec (Expand) and are no longer stored.
    [Id(3)] public bool Cancelled { get; set; }

    /// <summary>How many candidates (in grid order) have been created and enqueued.</summary>
    [Id(4)] public int Expanded { get; set; }

    /// <summary>Every front's confirmation run has ended: the search is done once its candidates are.</summary>
    [Id(5)] public bool Confirmed { get; set; }
}

/// <summary>How a search watches over its candidates (configuration section <c>SrMobile:Search</c>).</summary>
public sealed class SearchOptions
{
    public const string Section = "SrMobile:Search";

    /// <summary>How often an unfinished search looks for stalls, device timeouts and candidates to repair.</summary>
    public TimeSpan WatchPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A candidate whose stage has not changed for this long is repaired (its missing job enqueued).</summary>
    public TimeSpan RepairAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A pool with queued jobs that no worker has asked for work for this long is stalled.</summary>
    public TimeSpan StallAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>While a search is unfinished a reminder brings it back this often after a restart (Orleans' minimum is 1 min unless configured lower).</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// See <see cref="ISearchGrain"/>. Stage counts come from an in-memory map that candidates keep current (their
/// <see cref="ISearchGrain.StageChanged"/> news), built from the candidates themselves on activation, so a status
/// of a 10,000-candidate search is one dictionary pass, not 10,000 calls. A submit stores the spec and returns; the
/// grid is expanded by a timer in batches (no call waits on 10,000 candidates), and the count of expanded candidates
/// is stored after every batch, so an expansion cut by a restart resumes when the search next activates.
/// While unfinished, a reminder brings the search back after a restart and a timer watches it: the first watch after
/// an activation repairs every candidate (a crash between two writes of a cross-grain step leaves a missing job or an
/// unreported point), later ones repair candidates that have been quiet for <see cref="SearchOptions.RepairAfter"/> (at
/// most 500 a round, longest unheard first),
/// say what the search waits for (<see cref="Stall"/>) and apply the spec's device_timeout.
/// </summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class SearchGrain(
    [PersistentState("search", WorkQueueGrain.StorageName)] IPersistentState<SearchState> state,
    IOptions<SearchOptions> options,
    IOptions<LimitsOptions> limits,
    IOptions<DataRootOptions> dataRoots,
    SrMobileMetrics metrics,
    ILogger<SearchGrain> logger) : Grain, ISearchGrain, IRemindable
{
    private readonly ClusterObservers observers = new(logger);
    private const int BatchSize = 500;
    private const int QuietRepairsPerWatch = 500;
    private const string RepairReminder = "repair";
    private readonly Dictionary<string, (CandidateStage Stage, int Version, DateTimeOffset HeardUtc)> stages = [];
    private readonly Dictionary<string, DateTimeOffset> stallSince = [];
    private IReadOnlyList<Stall> stalls = [];
    private bool repairedAll;
    private IGrainTimer? expansion;
    private IGrainTimer? watch;
    private IReadOnlyList<CandidateSpec>? grid;

    /// <summary>The fronts whose confirmation has not ended, as of the last watch (null: not asked since activation).</summary>
    private IReadOnlyList<string>? confirming;
    private IReadOnlyList<string>? fronts;

    /// <summary>When a watch first saw every candidate ended (this activation).</summary>
    private DateTimeOffset? allEndedSeen;

    /// <summary>The stage counts this silo's metrics read (by <see cref="CandidateStage"/>), kept with <see cref="stages"/>.</summary>
    private int[] stageCounts = [];

    /// <summary>The submitted spec's candidates in grid order (empty before a submit), computed once per activation.</summary>
    private IReadOnlyList<CandidateSpec> Grid => grid ??= state.State.SpecText is { } text ? [.. SearchGrid.Expand(Stored(text))] : [];

    /// <summary>A stored spec passed the limits when it was submitted; limits changed since must not break it.</summary>
    private static SearchSpec Stored(string text) => SearchSpecReader.Parse(text, SpecLimits.None).Spec!;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        stageCounts = metrics.SearchStages(this.GetPrimaryKeyString());
        Array.Clear(stageCounts);
        foreach (var batch in Grid.Take(state.State.Expanded).Chunk(1000))
        {
            var views = await Task.WhenAll(batch.Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).Get()));
            foreach (var view in views)
                Track(view.Key, view.Stage, view.Version);
        }
        ExpandInBackground();
        if (state.State.SpecText is not null)
        {
            // A search stored before the index existed, or whose submit was cut between the two writes, is listed from here on.
            await Index().Add(this.GetPrimaryKeyString());
            if (!Current().Finished)
                StartWatching();
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        metrics.ForgetSearch(this.GetPrimaryKeyString());
        return Task.CompletedTask;
    }

    private ISearchIndexGrain Index() => GrainFactory.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key);

    /// <summary>The reminder only brings the search back after a restart; its activation starts the watch.</summary>
    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;

    public async Task<SubmitResult> Submit(string specText)
    {
        // Every limit is checked here, before anything is stored: a refused spec leaves no state, candidate or job.
        var (spec, errors) = SearchSpecReader.Parse(specText, new SpecLimits(limits.Value.MaxCandidates, limits.Value.MaxSpecCharacters, new DataRoots(dataRoots.Value.DataRoots)));
        if (spec is null)
            return new SubmitResult(false, false, 0, errors);
        if (spec.Name != this.GetPrimaryKeyString())
            return new SubmitResult(false, false, 0, [new SpecError("name", $"'{spec.Name}' submitted to search '{this.GetPrimaryKeyString()}'")]);

        var hash = SearchGrid.Hash(specText);
        if (state.State.SpecHash is { } existing && existing != hash)
            return new SubmitResult(false, false, 0, [new SpecError("name", $"search '{spec.Name}' exists with another spec; use a new name")]);
        var created = state.State.SpecHash is null;
        if (created)
        {
            state.State.SpecText = specText;
            state.State.SpecHash = hash;
            await state.WriteStateAsync();
            grid = null;
            await this.RegisterOrUpdateReminder(RepairReminder, options.Value.ReminderPeriod, options.Value.ReminderPeriod);
            StartWatching();
        }
        // Stored first, listed second: a crash between the two is mended by the next activation's add.
        await Index().Add(spec.Name);
        ExpandInBackground();
        return new SubmitResult(true, created, Grid.Count, []);
    }

    private void ExpandInBackground()
    {
        if (expansion is not null || state.State.SpecText is null || state.State.Cancelled || state.State.Expanded >= Grid.Count)
            return;
        expansion = this.RegisterGrainTimer(ExpandBatch, new GrainTimerCreationOptions(TimeSpan.Zero, TimeSpan.FromMilliseconds(1)) { Interleave = false, KeepAlive = true });
    }

    /// <summary>Creates the next batch of candidates (each stores its spec and enqueues its training job; idempotent), then stores the count.</summary>
    private async Task ExpandBatch(CancellationToken cancellation)
    {
        var batch = Grid.Skip(state.State.Expanded).Take(BatchSize).ToList();
        if (!state.State.Cancelled && batch.Count > 0)
        {
            await Task.WhenAll(batch.Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).Initialize(c)));
            state.State.Expanded += batch.Count;
            await state.WriteStateAsync();
        }
        if (state.State.Cancelled || state.State.Expanded >= Grid.Count)
        {
            expansion?.Dispose();
            expansion = null;
        }
    }

    public Task<SearchStatus> Status() => Task.FromResult(Current());

    private SearchStatus Current()
    {
        var counts = stages.Values.GroupBy(v => v.Stage).ToDictionary(g => g.Key, g => g.Count());
        var status = new SearchStatus(this.GetPrimaryKeyString(), state.State.SpecHash is not null, state.State.Cancelled, counts,
            Grid.Count, state.State.Expanded, stalls);
        // Once every candidate has ended, the fronts are confirmed before the search is done (unless it was cancelled).
        var unconfirmed = !status.AllEnded || state.State.Cancelled || state.State.Confirmed ? 0 : confirming?.Count ?? Fronts().Count;
        return status with { Confirming = unconfirmed };
    }

    /// <summary>The keys of the search's fronts, one per scale and device key (computed once per activation, like the grid).</summary>
    private IReadOnlyList<string> Fronts()
    {
        if (fronts is null && state.State.SpecText is { } text)
        {
            var spec = Stored(text);
            fronts = [.. spec.Scales.SelectMany(scale => spec.Devices.Select(device => ParetoKeys.Of(spec.Name, scale, device)))];
        }
        return fronts ?? [];
    }

    /// <summary>
    /// Starts (or repairs) the confirmation of every front not yet confirmed and keeps which still run; once all have
    /// ended, that is stored and the search is done.
    /// </summary>
    private async Task ConfirmFronts()
    {
        var keys = Fronts();
        var answers = await Task.WhenAll(keys.Select(key => GrainFactory.GetGrain<IParetoGrain>(key).Confirm()));
        confirming = [.. keys.Where((_, i) => !answers[i].Ended)];
        if (confirming.Count == 0)
        {
            state.State.Confirmed = true;
            await state.WriteStateAsync();
        }
    }

    private void StartWatching() => watch ??= this.RegisterGrainTimer(Watch, new GrainTimerCreationOptions(options.Value.WatchPeriod, options.Value.WatchPeriod) { Interleave = false, KeepAlive = true });

    /// <summary>One watch of an unfinished search: repair, stalls, device timeouts; the reminder goes once it has finished.</summary>
    private async Task Watch(CancellationToken cancellation)
    {
        if (state.State.Expanded < Grid.Count && !state.State.Cancelled)
            return;
        var now = DateTimeOffset.UtcNow;
        // After the first round, a backstop: the quiet ones longest unheard, a bounded number per round, since a long
        // queue keeps thousands of candidates legitimately quiet and repairing them all every round would swamp the cluster.
        var repair = repairedAll
            ? stages.Where(s => !Ended(s.Value.Stage) && now - s.Value.HeardUtc > options.Value.RepairAfter)
                .OrderBy(s => s.Value.HeardUtc).Take(QuietRepairsPerWatch).Select(s => s.Key).ToList()
            : stages.Keys.ToList();
        foreach (var batch in repair.Chunk(500))
        {
            var views = await Task.WhenAll(batch.Select(key => GrainFactory.GetGrain<ICandidateGrain>(key).Repair()));
            foreach (var view in views.Where(v => Track(v.Key, v.Stage, v.Version, touch: true)))
                Notify(new ClusterChange(this.GetPrimaryKeyString(), view.Key, view.Stage));
        }
        repairedAll = true;
        if (Current() is { AllEnded: true, Confirming: > 0 })
        {
            // A candidate tells the search it is done just before it reports its point: confirming starts a watch
            // later, so the fronts hold every point (a crash between the two is mended by the repair above).
            if (allEndedSeen is null)
                allEndedSeen = now;
            else
                await ConfirmFronts();
        }
        await FindStalls(now);
        if (Current().Finished)
        {
            stalls = [];
            watch?.Dispose();
            watch = null;
            if (await this.GetReminder(RepairReminder) is { } reminder)
                await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>What the unfinished candidates wait on that may never come: a device key no online worker serves, a pool nobody leases from.</summary>
    private async Task FindStalls(DateTimeOffset now)
    {
        var spec = Stored(state.State.SpecText!);
        var training = stages.Values.Count(s => s.Stage is CandidateStage.Queued or CandidateStage.Training or CandidateStage.Quantizing);
        // A front's confirmation job waits on its device's workers as a measurement does.
        var measuring = stages.Values.Count(s => s.Stage == CandidateStage.Measuring) + Current().Confirming;
        var found = new List<Stall>();
        var online = measuring > 0
            ? (await GrainFactory.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List()).Where(w => w.Online).Select(w => w.Registration.DeviceKey).ToHashSet()
            : [];
        var pools = new List<(string Pool, int Candidates, string? Device)>();
        if (training > 0)
            pools.Add((CandidateSpec.TrainerPool, training, null));
        if (measuring > 0)
            pools.AddRange(spec.Devices.Select(d => (CandidateSpec.DevicePool(d), measuring, (string?)d)));
        foreach (var (pool, candidates, device) in pools)
        {
            var summary = await GrainFactory.GetGrain<IWorkQueueGrain>(pool).Summary();
            string? reason = null;
            if (device is not null && !online.Contains(device) && summary.Queued + summary.Leased > 0)
                reason = $"waiting for device key '{device}': no registered worker of it is online";
            else if (summary.Queued > 0 && summary.Leased == 0 && (summary.LastPollUtc is not { } poll || now - poll > options.Value.StallAfter))
                reason = $"no worker has asked for work for over {options.Value.StallAfter.TotalSeconds:F0} s";
            if (reason is null)
            {
                stallSince.Remove(pool);
                continue;
            }
            var since = stallSince.TryGetValue(pool, out var known) ? known : stallSince[pool] = summary.OldestQueuedUtc ?? now;
            found.Add(new Stall(pool, reason, summary.Queued + summary.Leased, since));
            if (device is not null && spec.DeviceTimeoutSeconds is { } timeout && now - since > TimeSpan.FromSeconds(timeout))
            {
                await Task.WhenAll(stages.Where(s => s.Value.Stage == CandidateStage.Measuring)
                    .Select(s => GrainFactory.GetGrain<ICandidateGrain>(s.Key).DeviceTimedOut(device, now - since)));
                var unconfirmed = FormattableString.Invariant($"no worker of device key '{device}' took the confirmation within the spec's device_timeout ({(now - since).TotalSeconds:F0} s waited); the front shows first measurements");
                await Task.WhenAll((confirming ?? []).Where(key => ParetoKeys.DeviceOf(key) == device)
                    .Select(key => GrainFactory.GetGrain<IParetoGrain>(key).GiveUpConfirmation(unconfirmed)));
            }
        }
        stalls = found;
    }

    private static bool Ended(CandidateStage stage) => stage is CandidateStage.Done or CandidateStage.Failed or CandidateStage.Cancelled;

    public Task StageChanged(string candidateKey, CandidateStage stage, int version)
    {
        if (Track(candidateKey, stage, version))
            Notify(new ClusterChange(this.GetPrimaryKeyString(), candidateKey, stage));
        return Task.CompletedTask;
    }

    public Task FrontChanged(string paretoKey)
    {
        Notify(new ClusterChange(this.GetPrimaryKeyString(), ParetoKey: paretoKey));
        return Task.CompletedTask;
    }

    public Task Subscribe(IClusterObserver observer) => observers.Subscribe(observer);

    public Task Unsubscribe(IClusterObserver observer) => observers.Unsubscribe(observer);

    private void Notify(ClusterChange change) => observers.Notify(change);

    /// <summary>Keeps the newest news (true when this was news); <paramref name="touch"/> (a repair's answer) counts as hearing from it.</summary>
    private bool Track(string candidateKey, CandidateStage stage, int version, bool touch = false)
    {
        var isKnown = stages.TryGetValue(candidateKey, out var known);
        if (!isKnown || known.Version < version)
        {
            stages[candidateKey] = (stage, version, DateTimeOffset.UtcNow);
            if (isKnown)
                Interlocked.Decrement(ref stageCounts[(int)known.Stage]);
            Interlocked.Increment(ref stageCounts[(int)stage]);
            return true;
        }
        if (touch)
            stages[candidateKey] = known with { HeardUtc = DateTimeOffset.UtcNow };
        return false;
    }

    public Task<SearchSpec?> Spec() =>
        Task.FromResult(state.State.SpecText is { } text ? Stored(text) : null);

    public Task<CandidatePage> Candidates(CandidateStage? stage, int skip, int take)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        ArgumentOutOfRangeException.ThrowIfNegative(take);
        var matching = Grid.Take(state.State.Expanded)
            .Select(c => new CandidateListing(c.Key, stages.TryGetValue(c.Key, out var known) ? known.Stage : CandidateStage.Queued))
            .Where(c => stage is null || c.Stage == stage)
            .ToList();
        return Task.FromResult(new CandidatePage(matching.Count, [.. matching.Skip(skip).Take(take)]));
    }

    public async Task Cancel()
    {
        // Only a search whose candidates had all ended can have a confirmation to stop.
        var confirmationMayRun = Current() is { AllEnded: true, Confirming: > 0 };
        state.State.Cancelled = true;
        await state.WriteStateAsync();
        await Task.WhenAll(Grid.Take(state.State.Expanded).Select(c => GrainFactory.GetGrain<ICandidateGrain>(c.Key).Cancel("search cancelled")));
        if (confirmationMayRun)
            await Task.WhenAll(Fronts().Select(key => GrainFactory.GetGrain<IParetoGrain>(key).GiveUpConfirmation("search cancelled")));
    }

}
