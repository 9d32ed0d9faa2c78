using System.Globalization;
using Microsoft.Extensions.Logging;
using SrMobile.Contracts;

namespace SrMobile.Grains.Storage;

/// <summary>
/// One silo owns a data folder of the local storage kind. Two silos on one folder would each keep their own copy of
/// the reminder table and overwrite the other's grain state, so the second is refused at start-up, naming the folder
/// and its owner. The claim is an exclusive lock on <c>owner.lock</c> held from start to stop: the kernel drops it
/// when the owner's process ends, however it ends, so a killed silo never leaves its folder claimed. With the claim
/// taken, the temporary files of writes that a crash interrupted are removed.
/// </summary>
public sealed class DataFolderOwner(string folder, ILogger<DataFolderOwner> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private const string LockName = "owner.lock";
    private const string OwnerName = "owner.txt";
    private FileStream? claim;

    public string Folder { get; } = Path.GetFullPath(folder);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DataFolderOwner), ServiceLifecycleStage.First, _ => Task.Run(Claim), _ =>
        {
            Dispose();
            return Task.CompletedTask;
        });

    /// <summary>Takes the folder, or throws naming it and the silo that holds it.</summary>
    public void Claim()
    {
        if (claim is not null)
            return;
        Directory.CreateDirectory(Folder);
        try
        {
            // FileShare.None is an exclusive advisory lock (flock) on Unix, a sharing lock on Windows.
            claim = new FileStream(Path.Combine(Folder, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException(
                $"data folder {Folder} is in use by another silo ({Owner()}); each silo of the local storage kind needs a data folder of its own (SrMobile:DataFolder)", e);
        }
        File.WriteAllText(Path.Combine(Folder, OwnerName), string.Create(CultureInfo.InvariantCulture,
            $"process {Environment.ProcessId} on {Environment.MachineName}, since {DateTime.UtcNow:O}\n"));
        var removed = DurableFile.RemoveLeftovers(Folder);
        if (removed > 0)
            logger.LogInformation("Removed {Count} temporary files that interrupted writes left in {Folder}", removed, Folder);
    }

    private string Owner()
    {
        try
        {
            return File.ReadAllText(Path.Combine(Folder, OwnerName)).Trim();
        }
        catch (IOException)
        {
            return "owner unknown";
        }
    }

    public void Dispose()
    {
        claim?.Dispose();
        claim = null;
    }
}
