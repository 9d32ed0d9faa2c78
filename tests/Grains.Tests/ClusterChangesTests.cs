using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SrMobile.Contracts;
using SrMobile.Tests;
using SrMobile.Query;

namespace SrMobile.Grains.Tests;

/// <summary>Pushed changes through the cluster client, as the dashboard gets them: each within 2 s of the change.</summary>
public class ClusterChangesTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(2);
    private readonly ConcurrentQueue<ClusterChange> heard = new();

    [Fact]
    public async Task A_watcher_hears_of_a_new_search_its_candidates_stages_its_fronts_and_devices_and_nothing_after_it_stops()
    {
        await using var changes = new ClusterChanges(fixture.Cluster.Client, NullLogger<ClusterChanges>.Instance);
        var name = $"w-{Guid.NewGuid():N}"[..20];
        await using var searches = await changes.WatchSearches(heard.Enqueue);
        var search = await changes.WatchSearch(name, heard.Enqueue);
        await using var devices = await changes.WatchDevices(heard.Enqueue);

        var spec = $"name: {name}\nscales: [3]\ndepths: [1]\nwidths: [8, 16]\nquantization: [{{kind: ptq}}]\ndatasets: {{train: data/train}}\ndevices: [local]\n";
        Assert.True((await fixture.Grains.GetGrain<ISearchGrain>(name).Submit(spec)).Accepted);
        await Heard(c => c.Search == name && c.CandidateKey is null && c.ParetoKey is null, "the new search");
        var keys = SearchGrid.Expand(SearchSpecReader.Parse(spec).Spec!).Select(c => c.Key).ToList();
        foreach (var key in keys)
            await Heard(c => c.CandidateKey == key && c.Stage == CandidateStage.Queued, $"{key} queued");

        await fixture.Grains.GetGrain<ICandidateGrain>(keys[0]).Cancel("test");
        await Heard(c => c.CandidateKey == keys[0] && c.Stage == CandidateStage.Cancelled, "the cancel");

        var front = ParetoKeys.Of(name, 3, "local");
        await fixture.Grains.GetGrain<IParetoGrain>(front).Report(new ParetoPoint(keys[1], 30, 12));
        await Heard(c => c.Search == name && c.ParetoKey == front, "the front's new point");

        var worker = $"worker-{Guid.NewGuid():N}";
        await DeviceSessions.Join(fixture.Grains, "local", worker);
        await Heard(c => c.DeviceWorker == worker, "the registration");

        await search.DisposeAsync();
        heard.Clear();
        await fixture.Grains.GetGrain<ICandidateGrain>(keys[1]).Cancel("test");
        await Task.Delay(Within);
        Assert.DoesNotContain(heard, c => c.Search == name);
    }

    private async Task Heard(Func<ClusterChange, bool> match, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!heard.Any(match))
        {
            Assert.True(watch.Elapsed < Within, $"no notice of {what} within {Within.TotalSeconds} s");
            await Task.Delay(20);
        }
    }
}
