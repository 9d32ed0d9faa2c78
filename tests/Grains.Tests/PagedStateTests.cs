using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains.Tests;

/// <summary>Paged state on the real local store: a change writes the page it touches and nothing else.</summary>
public sealed class PagedStateTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "srmobile-tests", Guid.NewGuid().ToString("N"));
    private readonly FileGrainStorage storage;
    private readonly GrainId grain = GrainId.Create("workqueue", "paged");

    public PagedStateTests()
    {
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        storage = new FileGrainStorage(root, serializer);
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Records_span_pages_reload_in_order_and_a_change_rewrites_only_its_page()
    {
        var pages = new PagedState<string>(storage, grain, "queue", pageSize: 128);
        await pages.Load();
        for (var i = 0; i < 300; i++)
            Assert.Equal(i, pages.Add($"job-{i}"));
        await pages.Save();
        Assert.Equal(["1", "1", "1"], await Versions(3));

        pages[5] = "job-5-leased";
        await pages.Save();
        Assert.Equal(["2", "1", "1"], await Versions(3));
        pages.Add("job-300");
        await pages.Save();
        Assert.Equal(["2", "1", "2"], await Versions(3));

        var reloaded = new PagedState<string>(storage, grain, "queue", pageSize: 128);
        await reloaded.Load();
        Assert.Equal(301, reloaded.Count);
        Assert.Equal("job-5-leased", reloaded[5]);
        Assert.Equal("job-300", reloaded[300]);
        Assert.Equal(Enumerable.Range(0, 301).Select(i => i == 5 ? "job-5-leased" : $"job-{i}"), reloaded.Items);
        Assert.Throws<ArgumentOutOfRangeException>(() => reloaded[301]);
    }

    [Fact]
    public async Task A_settled_page_leaves_memory_and_is_read_back_when_one_of_its_records_is_needed()
    {
        var pages = new PagedState<string>(storage, grain, "queue", pageSize: 4);
        await pages.Load();
        for (var i = 0; i < 10; i++)
            pages.Add(i < 4 ? $"done-{i}" : $"job-{i}");
        Assert.False(pages.EvictIfAll(1, r => r.StartsWith("done", StringComparison.Ordinal)));
        await pages.Save();

        Assert.False(pages.EvictIfAll(5, r => r.StartsWith("done", StringComparison.Ordinal)));
        Assert.False(pages.EvictIfAll(9, _ => true));
        Assert.True(pages.EvictIfAll(1, r => r.StartsWith("done", StringComparison.Ordinal)));
        Assert.False(pages.IsResident(2));
        Assert.Throws<InvalidOperationException>(() => pages[2]);
        Assert.Equal(Enumerable.Range(4, 6).Select(i => $"job-{i}"), pages.Items);
        Assert.Equal(10, pages.Count);

        Assert.Equal("done-2", await pages.Load(2));
        Assert.True(pages.IsResident(0));
        pages[0] = "again-0";
        await pages.Save();
        var reloaded = new PagedState<string>(storage, grain, "queue", pageSize: 4);
        await reloaded.Load();
        Assert.Equal("again-0", reloaded[0]);
        Assert.Equal("done-3", reloaded[3]);
    }

    [Fact]
    public async Task A_damaged_state_file_is_an_error_naming_the_file_and_is_left_as_it_is()
    {
        var pages = new PagedState<string>(storage, grain, "queue");
        await pages.Load();
        pages.Add("job-0");
        await pages.Save();
        var file = Directory.GetFiles(root, "*.state", SearchOption.AllDirectories).Single();
        await File.WriteAllTextAsync(file, "not a state file");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => new PagedState<string>(storage, grain, "queue").Load());
        Assert.Contains(file, error.Message);
        Assert.Contains("damaged", error.Message);
        Assert.Equal("not a state file", await File.ReadAllTextAsync(file));
    }

    private async Task<string[]> Versions(int count)
    {
        var versions = new string[count];
        for (var page = 0; page < count; page++)
        {
            var state = new GrainState<StatePage<string>>(new StatePage<string>());
            await storage.ReadStateAsync($"queue.{page}", grain, state);
            versions[page] = state.ETag ?? "(none)";
        }
        return versions;
    }
}
