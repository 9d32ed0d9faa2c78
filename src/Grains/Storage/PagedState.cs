using Orleans.Storage;

namespace SrMobile.Grains.Storage;

[GenerateSerializer]
public sealed class StatePage<T>
{
    [Id(0)] public List<T> Items { get; set; } = [];
}

/// <summary>
/// A grain's growing list of records kept in fixed-size pages, each page its own grain state
/// (<c>{name}.{page}</c>) in the grain's storage provider. Orleans writes a grain state whole; a queue or a front
/// of 10,000 records would rewrite all of them on every change. Here a change rewrites one page, so the cost of a
/// write does not grow with the search. Records are addressed by their index (the order they were added in);
/// pages fill in order, so loading reads pages until the first missing one. A page whose records are all settled can
/// be evicted from memory (<see cref="EvictIfAll"/>) and is read back when one of its records is next needed
/// (<see cref="Load(int)"/>), so a long-lived owner holds only the pages it still works on.
/// </summary>
public sealed class PagedState<T>(IGrainStorage storage, GrainId grainId, string name, int pageSize = 128)
{
    private readonly List<GrainState<StatePage<T>>> pages = [];
    private readonly SortedSet<int> dirty = [];

    public int Count { get; private set; }

    /// <summary>The record at <paramref name="index"/>, whose page must be in memory (<see cref="IsResident"/>).</summary>
    public T this[int index]
    {
        get => Resident(index).Items[index % pageSize];
        set
        {
            Resident(index).Items[index % pageSize] = value;
            dirty.Add(index / pageSize);
        }
    }

    /// <summary>The records of the pages in memory (all of them until a page is evicted).</summary>
    public IEnumerable<T> Items => pages.Where(p => p.State is not null).SelectMany(p => p.State!.Items);

    public bool IsResident(int index) => Page(index).State is not null;

    /// <summary>The record at <paramref name="index"/>, reading its page back from storage if it was evicted.</summary>
    public async ValueTask<T> Load(int index)
    {
        var page = Page(index);
        if (page.State is null)
        {
            await storage.ReadStateAsync(PageName(index / pageSize), grainId, page);
            if (!page.RecordExists || page.State is not { } read || read.Items.Count != PageLength(index / pageSize))
                throw new InvalidDataException($"{grainId}: page {PageName(index / pageSize)} changed in storage while it was out of memory");
        }
        return page.State.Items[index % pageSize];
    }

    /// <summary>
    /// Drops the page of <paramref name="index"/> from memory when every record on it is <paramref name="settled"/> and
    /// it has nothing unsaved; the last page stays (records are appended to it).
    /// </summary>
    public bool EvictIfAll(int index, Func<T, bool> settled)
    {
        var number = index / pageSize;
        var page = Page(index);
        if (number == pages.Count - 1 || dirty.Contains(number) || page.State is null || !page.State.Items.All(settled))
            return false;
        page.State = null!;
        return true;
    }

    /// <summary>Reads every stored page (once, on activation).</summary>
    public async Task Load()
    {
        pages.Clear();
        dirty.Clear();
        Count = 0;
        while (true)
        {
            var page = new GrainState<StatePage<T>>(new StatePage<T>());
            await storage.ReadStateAsync(PageName(pages.Count), grainId, page);
            if (!page.RecordExists)
                return;
            pages.Add(page);
            Count += page.State!.Items.Count;
        }
    }

    /// <summary>Appends a record and returns its index; nothing is stored until <see cref="Save"/>.</summary>
    public int Add(T item)
    {
        if (Count % pageSize == 0)
            pages.Add(new GrainState<StatePage<T>>(new StatePage<T>()));
        pages[^1].State!.Items.Add(item);
        dirty.Add(pages.Count - 1);
        return Count++;
    }

    /// <summary>Marks the record at <paramref name="index"/> changed (for records changed in place).</summary>
    public void Changed(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        dirty.Add(index / pageSize);
    }

    /// <summary>Writes the changed pages, in page order so a page is never stored before the ones it follows.</summary>
    public async Task Save()
    {
        foreach (var page in dirty.ToList())
        {
            await storage.WriteStateAsync(PageName(page), grainId, pages[page]);
            dirty.Remove(page);
        }
    }

    private StatePage<T> Resident(int index) =>
        Page(index).State ?? throw new InvalidOperationException($"{grainId}: record {index} is on page {PageName(index / pageSize)}, which is not in memory (Load it)");

    private int PageLength(int page) => page < pages.Count - 1 ? pageSize : Count - page * pageSize;

    private GrainState<StatePage<T>> Page(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return pages[index / pageSize];
    }

    private string PageName(int page) => $"{name}.{page}";
}
