using System.Text.Json;
using SrMobile.Contracts;

namespace SrMobile.Grains.Storage;

/// <summary>
/// The reminder table of the local storage kind: every reminder in one JSON file in the data folder (an unfinished
/// search or queue holds one reminder, so the table stays small), kept in memory and written whole on each change,
/// through <see cref="DurableFile"/>, so a crash leaves the old table or the new one. Orleans'
/// in-memory table would forget the reminders with the silo, and with them the repair after a restart.
/// </summary>
public sealed class FileReminderTable(string folder) : IReminderTable
{
    private sealed record Row(string GrainId, string Name, DateTime StartAt, TimeSpan Period, string ETag);

    private readonly string path = Path.Combine(folder, "reminders.json");
    private readonly SemaphoreSlim gate = new(1, 1);
    private Dictionary<(GrainId, string), ReminderEntry> rows = [];

    public async Task Init()
    {
        await gate.WaitAsync();
        try
        {
            if (!File.Exists(path))
                return;
            try
            {
                var stored = JsonSerializer.Deserialize<List<Row>>(await File.ReadAllBytesAsync(path)) ?? [];
                rows = stored.Select(r => new ReminderEntry
                {
                    GrainId = GrainId.Parse(r.GrainId),
                    ReminderName = r.Name,
                    StartAt = r.StartAt,
                    Period = r.Period,
                    ETag = r.ETag,
                }).ToDictionary(e => (e.GrainId, e.ReminderName));
            }
            catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
            {
                throw new InvalidDataException($"{path}: the reminder table is damaged ({e.Message}); nothing was changed", e);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        Read(() => new ReminderTableData(rows.Values.Where(e => e.GrainId == grainId).ToList()));

    /// <summary>Rows whose grain hash is in (begin, end], the range wrapping around when begin ≥ end (Orleans' ring).</summary>
    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        Read(() => new ReminderTableData(rows.Values.Where(e =>
        {
            var hash = e.GrainId.GetUniformHashCode();
            return begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
        }).ToList()));

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        Read(() => rows.GetValueOrDefault((grainId, reminderName)));

    public Task<string?> UpsertRow(ReminderEntry entry) => Change(() =>
    {
        var stored = new ReminderEntry
        {
            GrainId = entry.GrainId,
            ReminderName = entry.ReminderName,
            StartAt = entry.StartAt,
            Period = entry.Period,
            ETag = Guid.NewGuid().ToString("N"),
        };
        rows[(entry.GrainId, entry.ReminderName)] = stored;
        return (true, (string?)stored.ETag);
    });

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) => Change(() =>
        rows.TryGetValue((grainId, reminderName), out var row) && row.ETag == eTag && rows.Remove((grainId, reminderName))
            ? (true, true) : (false, false));

    public Task TestOnlyClearTable() => Change(() =>
    {
        rows.Clear();
        return (true, true);
    });

    private async Task<T> Read<T>(Func<T> read)
    {
        await gate.WaitAsync();
        try
        {
            return read();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Applies a change in memory and, when it changed anything, stores the table before answering.</summary>
    private async Task<T> Change<T>(Func<(bool Changed, T Result)> change)
    {
        await gate.WaitAsync();
        try
        {
            var before = rows;
            rows = new Dictionary<(GrainId, string), ReminderEntry>(rows);
            var (changed, result) = change();
            if (changed)
            {
                try
                {
                    await Store();
                }
                catch
                {
                    rows = before;
                    throw;
                }
            }
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    private Task Store()
    {
        var table = rows.Values.Select(e => new Row(e.GrainId.ToString(), e.ReminderName, e.StartAt, e.Period, e.ETag ?? "")).ToList();
        return DurableFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(table));
    }
}
