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
/// pages fill in order, so loading reads pages until the first missing one.
/// </summary>
public sealed class PagedState<T>(IGrainStorage storage, GrainId grainId, string name, int pageSize = 128)
{
    private readonly List<GrainState<StatePage<T>>> pages = [];
    private readonly SortedSet<int> dirty = [];

    public int Count { get; private set; }

    public T this[int index]
    {
        get => Page(index).State!.Items[index % pageSize];
        set
        {
            Page(index).State!.Items[index % pageSize] = value;
            dirty.Add(index / pageSize);
        }
    }

    public IEnumerable<T> Items => pages.SelectMany(p => p.State!.Items);

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

    private GrainState<StatePage<T>> Page(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return pages[index / pageSize];
    }

    private string PageName(int page) => $"{name}.{page}";
}
