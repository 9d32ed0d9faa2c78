using SrMobile.Contracts;

namespace SrMobile.Query;

/// <summary>
/// <see cref="ISearchService"/> over the grains (a silo's <see cref="IGrainFactory"/> or an <c>IClusterClient</c>):
/// the one place that knows which grains answer which question, for the CLI, the HTTP API and the dashboard.
/// </summary>
public sealed class SearchService(IGrainFactory grains) : ISearchService
{
    /// <summary>How many failed candidates an overview reads the errors of (each is a grain call).</summary>
    public const int ErrorsShown = 100;

    public async Task<IReadOnlyList<SearchSummary>> Searches(CancellationToken cancellation = default)
    {
        var entries = await grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key).List();
        var statuses = await Task.WhenAll(entries.Select(e => Search(e.Name).Status()));
        return [.. entries.Zip(statuses, (e, s) => new SearchSummary(e.Name, e.SubmittedUtc, s))];
    }

    public async Task<SearchOverview?> Overview(string name, CancellationToken cancellation = default)
    {
        var search = Search(name);
        var status = await search.Status();
        var spec = await search.Spec();
        if (!status.Submitted || spec is null)
            return null;
        var submitted = (await grains.GetGrain<ISearchIndexGrain>(ISearchIndexGrain.Key).List()).FirstOrDefault(e => e.Name == name)?.SubmittedUtc;
        var failed = await search.Candidates(CandidateStage.Failed, 0, ErrorsShown);
        var views = await Task.WhenAll(failed.Items.Select(c => grains.GetGrain<ICandidateGrain>(c.Key).Get()));
        var running = new List<JobView>();
        foreach (var pool in Pools(spec))
            running.AddRange((await grains.GetGrain<IWorkQueueGrain>(pool).Leased()).Where(j => BelongsTo(j.JobId, name)));
        return new SearchOverview(status, spec, submitted, await FrontsOf(spec, null, null), failed.Total,
            [.. views.Select(v => new CandidateErrors(v.Key, v.Stage, v.Errors))], running);
    }

    public async Task<IReadOnlyList<FrontView>?> Fronts(string name, int? scale = null, string? device = null, CancellationToken cancellation = default) =>
        await Search(name).Spec() is { } spec ? await FrontsOf(spec, scale, device) : null;

    public async Task<CandidateDetail?> Candidate(string name, string key, CancellationToken cancellation = default)
    {
        var view = await CandidateView(name, key);
        if (view?.Spec is not { } spec)
            return null;
        var jobs = new List<JobView>();
        if (await grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Get(spec.TrainingJobId) is { } training)
            jobs.Add(training);
        foreach (var device in spec.Devices)
        {
            if (await grains.GetGrain<IWorkQueueGrain>(CandidateSpec.DevicePool(device)).Get(spec.MeasurementJobId(device)) is { } measurement)
                jobs.Add(measurement);
        }
        return new CandidateDetail(view, jobs);
    }

    /// <summary>The stored record of a candidate's artifact of <paramref name="kind"/> (see <see cref="ArtifactKinds"/>); null when it has none.</summary>
    public async Task<Artifact?> Artifact(string name, string key, string kind) =>
        (await CandidateView(name, key))?.Trained?.Artifacts.FirstOrDefault(a => a.Kind == kind);

    /// <summary>Every created candidate of a search in grid order (those at <paramref name="stage"/> only, when given), a page at a time.</summary>
    public async Task<IReadOnlyList<CandidateView>?> Candidates(string name, CandidateStage? stage = null, int skip = 0, int take = int.MaxValue)
    {
        var search = Search(name);
        if (!(await search.Status()).Submitted)
            return null;
        var page = await search.Candidates(stage, skip, take);
        // In batches: a whole grid at once would be thousands of calls in flight.
        return await Views(page.Items.Select(c => c.Key));
    }

    /// <summary>The candidates of these keys (whole keys), read in batches.</summary>
    public async Task<IReadOnlyList<CandidateView>> Views(IEnumerable<string> keys)
    {
        var views = new List<CandidateView>();
        foreach (var batch in keys.Chunk(500))
            views.AddRange(await Task.WhenAll(batch.Select(key => grains.GetGrain<ICandidateGrain>(key).Get())));
        return views;
    }

    public async Task<SearchProgress> Progress(string name)
    {
        var status = await Search(name).Status();
        var training = (await grains.GetGrain<IWorkQueueGrain>(CandidateSpec.TrainerPool).Leased()).Where(j => BelongsTo(j.JobId, name)).ToList();
        return new SearchProgress(status, training);
    }

    public async Task<DevicesView> Devices(CancellationToken cancellation = default)
    {
        var workers = await grains.GetGrain<IDeviceRegistryGrain>(IDeviceRegistryGrain.Key).List();
        var pools = new List<DevicePool>();
        foreach (var key in workers.Select(w => w.Registration.DeviceKey).Distinct().Order(StringComparer.Ordinal))
        {
            var pool = CandidateSpec.DevicePool(key);
            var online = workers.Count(w => w.Registration.DeviceKey == key && w.Online);
            var all = workers.Count(w => w.Registration.DeviceKey == key);
            pools.Add(new DevicePool(key, pool, online, all - online, await grains.GetGrain<IWorkQueueGrain>(pool).Summary()));
        }
        return new DevicesView(workers, pools);
    }

    public async Task<SubmitOutcome> Submit(string specText, CancellationToken cancellation = default)
    {
        // The configurable limits are the cluster's, applied by the search grain; the rest is checked before any call.
        var (spec, errors) = SearchSpecReader.Parse(specText, SpecLimits.None);
        if (spec is null)
            return new SubmitOutcome(null, new SubmitResult(false, false, 0, errors));
        return new SubmitOutcome(spec.Name, await Search(spec.Name).Submit(specText));
    }

    public async Task<bool> Cancel(string name, CancellationToken cancellation = default)
    {
        var search = Search(name);
        if (!(await search.Status()).Submitted)
            return false;
        await search.Cancel();
        return true;
    }

    /// <summary>A key given without its search's name gets it; a key of another search is not this search's candidate.</summary>
    public static string FullKey(string name, string key) =>
        key.StartsWith(name + "/", StringComparison.Ordinal) ? key : $"{name}/{key}";

    private async Task<CandidateView?> CandidateView(string name, string key)
    {
        if (string.IsNullOrWhiteSpace(key))
            return null;
        var view = await grains.GetGrain<ICandidateGrain>(FullKey(name, key)).Get();
        // A key no search created reads as an empty grain (nothing is stored for it).
        return view.Spec?.SearchName == name ? view : null;
    }

    private async Task<IReadOnlyList<FrontView>> FrontsOf(SearchSpec spec, int? scale, string? device)
    {
        var fronts = new List<FrontView>();
        foreach (var s in spec.Scales.Where(s => scale is null || s == scale))
        {
            foreach (var d in spec.Devices.Where(d => device is null || d == device))
            {
                var view = await grains.GetGrain<IParetoGrain>(ParetoKeys.Of(spec.Name, s, d)).Get();
                var onFront = view.Front.Select(p => p.CandidateKey).ToHashSet();
                FrontPoint Point(ParetoPoint p) => new(p.CandidateKey, p.Psnr, p.MedianMs, ParetoMath.MaiScore(p.Psnr, p.MedianMs, spec.MaiConstant), onFront.Contains(p.CandidateKey), p.FirstMs);
                fronts.Add(new FrontView(s, d, [.. view.Front.Select(Point)], [.. view.All.Select(Point)], view.History, view.History.LastOrDefault()?.Hypervolume ?? 0, view.Confirmation));
            }
        }
        return fronts;
    }

    private ISearchGrain Search(string name) => grains.GetGrain<ISearchGrain>(name);

    private static IEnumerable<string> Pools(SearchSpec spec) => [CandidateSpec.TrainerPool, .. spec.Devices.Select(CandidateSpec.DevicePool)];

    private static bool BelongsTo(string jobId, string search) => jobId.StartsWith(search + "/", StringComparison.Ordinal);
}
