using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using SrMobile.Contracts;
using SrMobile.Grains.Storage;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

/// <summary>The local store on a disk it shares: one owner per data folder, damaged files found on read, leftovers removed.</summary>
public class FileGrainStorageTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
    private static readonly GrainId Grain = GrainId.Create("search", "a/b");

    private const string Spec = """
        name: owned
        scales: [3]
        depths: [1]
        widths: [4]
        quantization: [{kind: ptq}]
        datasets: {train: t}
        devices: [local]
        """;

    [Fact]
    public async Task A_second_silo_on_a_data_folder_already_owned_is_refused_naming_the_folder_and_the_first_keeps_its_state()
    {
        using var folder = TestData.NewTemporaryFolder();
        var root = folder.File("state");
        await using var first = await StorageCluster.Start(StorageCluster.File, root, null, 1, azureClustering: false);
        Assert.True((await first.GrainFactory.GetGrain<ISearchGrain>("owned").Submit(Spec)).Created);

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => StorageCluster.Start(StorageCluster.File, root, null, 1, azureClustering: false));
        var messages = string.Join(" | ", Chain(refused).Select(e => e.Message));
        Assert.Contains($"data folder {Path.GetFullPath(root)} is in use by another silo (process {Environment.ProcessId}", messages);
        Assert.Contains("SrMobile:DataFolder", messages);

        Assert.False((await first.GrainFactory.GetGrain<ISearchGrain>("owned").Submit(Spec)).Created);
        Assert.Equal(1, (await first.GrainFactory.GetGrain<ISearchGrain>("owned").Status()).Candidates);
    }

    [Fact]
    public async Task A_truncated_state_file_is_a_clear_error_naming_it()
    {
        using var folder = TestData.NewTemporaryFolder();
        var storage = new FileGrainStorage(folder.Path, Serializer);
        await storage.WriteStateAsync("state", Grain, new GrainState<string> { State = new string('x', 1000) });
        var path = StateFile(folder.Path);
        var bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..^100]);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => storage.ReadStateAsync("state", Grain, new GrainState<string>()));
        Assert.Contains(path, error.Message);
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public async Task A_changed_byte_in_a_state_file_fails_its_checksum()
    {
        using var folder = TestData.NewTemporaryFolder();
        var storage = new FileGrainStorage(folder.Path, Serializer);
        await storage.WriteStateAsync("state", Grain, new GrainState<string> { State = new string('x', 1000) });
        var path = StateFile(folder.Path);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^10] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => storage.ReadStateAsync("state", Grain, new GrainState<string>()));
        Assert.Contains(path, error.Message);
        Assert.Contains("SHA-256", error.Message);
    }

    [Fact]
    public async Task A_state_file_of_the_first_format_is_read_and_rewritten_with_a_checksum()
    {
        using var folder = TestData.NewTemporaryFolder();
        var storage = new FileGrainStorage(folder.Path, Serializer);
        await storage.WriteStateAsync("state", Grain, new GrainState<string> { State = "placeholder" });
        var path = StateFile(folder.Path);
        // The first format: magic, version, grain id, payload length, payload (no checksum).
        var payload = Serializer.SerializeToArray("kept from before");
        using (var writer = new BinaryWriter(File.Create(path), Encoding.UTF8))
        {
            writer.Write("SRMGRN1\n"u8);
            writer.Write(7L);
            writer.Write(Grain.ToString());
            writer.Write(payload.Length);
            writer.Write(payload);
        }

        var state = new GrainState<string>();
        await storage.ReadStateAsync("state", Grain, state);
        Assert.Equal(("kept from before", "7"), (state.State, state.ETag));
        state.State = "changed";
        await storage.WriteStateAsync("state", Grain, state);
        Assert.StartsWith("SRMGRN2\n", Encoding.UTF8.GetString((await File.ReadAllBytesAsync(path))[..8]));
        var again = new GrainState<string>();
        await storage.ReadStateAsync("state", Grain, again);
        Assert.Equal(("changed", "8"), (again.State, again.ETag));
    }

    [Fact]
    public async Task Temporary_files_of_interrupted_writes_are_removed_when_a_silo_takes_the_folder()
    {
        using var folder = TestData.NewTemporaryFolder();
        var root = folder.File("state");
        var leftover = DurableFile.TemporaryPath(Path.Combine(root, "state", "search", "ab", "abcd.state"));
        Directory.CreateDirectory(Path.GetDirectoryName(leftover)!);
        await File.WriteAllTextAsync(leftover, "half a write");
        var kept = Path.Combine(root, "state", "search", "ab", "notes.txt");
        await File.WriteAllTextAsync(kept, "not ours to remove");

        await using var cluster = await StorageCluster.Start(StorageCluster.File, root, null, 1, azureClustering: false);

        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(kept));
    }

    private static string StateFile(string root) => Directory.EnumerateFiles(root, "*.state", SearchOption.AllDirectories).Single();

    private static IEnumerable<Exception> Chain(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Chain))
                    yield return inner;
            }
        }
    }
}
