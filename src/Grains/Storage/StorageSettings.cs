using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;

namespace SrMobile.Grains.Storage;

/// <summary>
/// Where the cluster keeps its membership, grain state and artifacts, from configuration section
/// <c>SrMobile:Storage</c>:
/// <list type="bullet">
/// <item><c>SrMobile:Storage:Kind</c>: <c>local</c> (default; one machine: localhost clustering, <see cref="FileGrainStorage"/>
/// in the data folder, artifacts in a local folder) or <c>azure</c> (Azure Table membership, Azure Table or Blob grain
/// state, artifacts in Azure Blob container <c>artifacts</c>).</item>
/// <item><c>SrMobile:Storage:ConnectionString</c>: the Azure Storage connection string; required when Kind is <c>azure</c>
/// (Azurite: <c>UseDevelopmentStorage=true</c> or its explicit form).</item>
/// <item><c>SrMobile:Storage:GrainState</c>: <c>table</c> (default) or <c>blob</c>: which Azure service holds grain state.</item>
/// <item><c>SrMobile:Storage:Retry:Attempts</c> (default 4) and <c>SrMobile:Storage:Retry:BaseDelay</c> (default 00:00:00.2):
/// how often and how patiently a transient grain storage failure is retried (see <see cref="RetryingGrainStorage"/>).</item>
/// </list>
/// </summary>
public sealed record StorageSettings
{
    public const string Section = "SrMobile:Storage";
    public const string Local = "local";
    public const string Azure = "azure";
    public const string Table = "table";
    public const string Blob = "blob";

    public string Kind { get; init; } = Local;
    public string? ConnectionString { get; init; }
    public string GrainState { get; init; } = Table;

    public bool IsAzure => Kind == Azure;

    /// <summary>Reads and checks the settings; a bad value is an error naming its key, never a silent fallback.</summary>
    public static StorageSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var kind = Normalized(section["Kind"]) ?? Local;
        if (kind is not (Local or Azure))
            throw new InvalidOperationException($"{Section}:Kind is '{section["Kind"]}': expected '{Local}' or '{Azure}'");
        var grainState = Normalized(section["GrainState"]) ?? Table;
        if (grainState is not (Table or Blob))
            throw new InvalidOperationException($"{Section}:GrainState is '{section["GrainState"]}': expected '{Table}' or '{Blob}'");
        var connectionString = section["ConnectionString"] is { } text && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;
        var settings = new StorageSettings { Kind = kind, ConnectionString = connectionString, GrainState = grainState };
        if (kind == Azure)
        {
            if (connectionString is null)
                throw new InvalidOperationException($"{Section}:ConnectionString is required when {Section}:Kind is '{Azure}' (an Azure Storage connection string; Azurite: UseDevelopmentStorage=true)");
            // Parsed now so a typo fails at start-up with the key's name, not at the first grain call. The value is a
            // secret: the message names the key and the parser's complaint, never the string itself.
            try
            {
                _ = settings.TableService();
                _ = settings.BlobService();
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                throw new InvalidOperationException($"{Section}:ConnectionString is not a valid Azure Storage connection string: {e.Message}", e);
            }
        }
        return settings;
    }

    /// <summary>
    /// A table client for grain state and membership. The SDK retries a little, quickly; the longer, logged backoff is
    /// <see cref="RetryingGrainStorage"/>'s, so an outage surfaces in seconds rather than after minutes of silent retries.
    /// </summary>
    public TableServiceClient TableService()
    {
        var options = new TableClientOptions();
        Tune(options.Retry);
        return new TableServiceClient(RequireConnectionString(), options);
    }

    /// <summary>A blob client tuned like <see cref="TableService"/>, for blob grain state.</summary>
    public BlobServiceClient BlobService()
    {
        var options = new BlobClientOptions();
        Tune(options.Retry);
        return new BlobServiceClient(RequireConnectionString(), options);
    }

    private string RequireConnectionString() =>
        ConnectionString ?? throw new InvalidOperationException($"{Section}:ConnectionString is not set");

    private static void Tune(RetryOptions retry)
    {
        retry.Mode = RetryMode.Exponential;
        retry.MaxRetries = 2;
        retry.Delay = TimeSpan.FromMilliseconds(100);
        retry.MaxDelay = TimeSpan.FromSeconds(2);
        retry.NetworkTimeout = TimeSpan.FromSeconds(30);
    }

    private static string? Normalized(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null : value.Trim().ToLowerInvariant();
}
