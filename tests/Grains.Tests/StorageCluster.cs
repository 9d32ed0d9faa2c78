using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;
using SrMobile.Tests;

namespace SrMobile.Grains.Tests;

/// <summary>
/// A TestingHost cluster of coordinator silos on the production storage registration
/// (<see cref="SrMobileStorageExtensions"/>): the file storage, or Azure Table / Blob grain state in an Azurite.
/// With <c>azureClustering</c> the silos and the client also meet in Azurite's membership table, not TestingHost's own.
/// </summary>
internal static class StorageCluster
{
    public const string File = "file";
    public const string AzureTable = "azure-table";
    public const string AzureBlob = "azure-blob";

    /// <summary>Starts the storage a case needs: an Azurite for the Azure kinds, nothing for files.</summary>
    public static async Task<Azurite?> StartStorage(string kind) =>
        kind == File ? null : await Azurite.StartNew();

    public static async Task<TestCluster> Start(string kind, string dataFolder, Azurite? azurite, int silos, bool azureClustering, params (string Key, string Value)[] settings)
    {
        var builder = new TestClusterBuilder
        {
            Options =
            {
                InitialSilosCount = (short)silos,
                // A restarted cluster is the same service (Azure grain state is keyed by the service id) and cluster.
                ServiceId = "srmobile-tests",
                ClusterId = "srmobile-tests",
                UseTestClusterMembership = !azureClustering,
            },
        };
        builder.Properties["Test:DataFolder"] = dataFolder;
        builder.Properties["Test:AzureClustering"] = azureClustering ? "true" : "false";
        builder.Properties["SrMobile:Storage:Kind"] = kind == File ? StorageSettings.Local : StorageSettings.Azure;
        if (kind != File)
        {
            builder.Properties["SrMobile:Storage:ConnectionString"] = azurite!.ConnectionString;
            builder.Properties["SrMobile:Storage:GrainState"] = kind == AzureBlob ? StorageSettings.Blob : StorageSettings.Table;
        }
        foreach (var (key, value) in settings)
            builder.Properties[key] = value;
        builder.AddSiloBuilderConfigurator<Silo>();
        if (azureClustering)
            builder.AddClientBuilderConfigurator<Client>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private sealed class Silo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            var storage = StorageSettings.From(silo.Configuration);
            if (silo.Configuration["Test:AzureClustering"] == "true")
                silo.UseSrMobileAzureClustering(storage);
            silo.AddSrMobileGrainStorage(storage, silo.Configuration["Test:DataFolder"]!);
            silo.AddSiloRoles([SiloRoles.Coordinator]);
            silo.Services.Configure<WorkQueueOptions>(o =>
            {
                o.LeaseDuration = TimeSpan.FromSeconds(1);
                o.ExpiryCheckPeriod = TimeSpan.FromMilliseconds(200);
            });
        }
    }

    private sealed class Client : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder client) =>
            client.UseSrMobileAzureClustering(StorageSettings.From(configuration));
    }
}
