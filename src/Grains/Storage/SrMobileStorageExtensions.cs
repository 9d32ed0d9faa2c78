using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace SrMobile.Grains.Storage;

public static class SrMobileStorageExtensions
{
    /// <summary>
    /// The grain storage named <see cref="WorkQueueGrain.StorageName"/> by <paramref name="settings"/>: files in
    /// <paramref name="dataFolder"/> (local), or Azure Table / Blob (azure); retried either way (<see cref="RetryingGrainStorage"/>).
    /// </summary>
    public static ISiloBuilder AddSrMobileGrainStorage(this ISiloBuilder silo, StorageSettings settings, string dataFolder, Action<StorageRetryOptions>? retry = null)
    {
        const string Name = WorkQueueGrain.StorageName;
        // Reminders bring unfinished searches and queues back after a restart; periods are the grains' own
        // (SrMobile:Search:ReminderPeriod, SrMobile:WorkQueue:ReminderPeriod), so Orleans' 1-minute floor is lowered.
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        if (settings.IsAzure)
            silo.UseAzureTableReminderService(o => o.TableServiceClient = settings.TableService());
        else
        {
            silo.AddReminders();
            silo.Services.AddSingleton<IReminderTable>(new FileReminderTable(Path.Combine(dataFolder, "reminders")));
        }
        if (!settings.IsAzure)
        {
            silo.Services.AddSingleton(services => ActivatorUtilities.CreateInstance<DataFolderOwner>(services, dataFolder));
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<DataFolderOwner>());
            silo.AddFileGrainStorage(Name, dataFolder);
        }
        // Grain state in Orleans' own binary serialization, as in the file storage: the state types are written for it
        // ([GenerateSerializer], version-tolerant ids); the providers' JSON default cannot read some of them back.
        else if (settings.GrainState == StorageSettings.Blob)
            silo.AddAzureBlobGrainStorage(Name, (OptionsBuilder<AzureBlobStorageOptions> o) => o.Configure<Serializer>((options, serializer) =>
            {
                options.BlobServiceClient = settings.BlobService();
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        else
            silo.AddAzureTableGrainStorage(Name, (OptionsBuilder<AzureTableStorageOptions> o) => o.Configure<Serializer>((options, serializer) =>
            {
                options.TableServiceClient = settings.TableService();
                options.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        return silo.AddGrainStorageRetries(Name, retry);
    }

    /// <summary>Azure Table membership (the azure kind): silos and clients find each other through the storage account.</summary>
    public static ISiloBuilder UseSrMobileAzureClustering(this ISiloBuilder silo, StorageSettings settings) =>
        silo.UseAzureStorageClustering(o => o.TableServiceClient = settings.TableService());

    /// <summary>A client of an azure-kind cluster finds the gateways in the same membership table.</summary>
    public static IClientBuilder UseSrMobileAzureClustering(this IClientBuilder client, StorageSettings settings) =>
        client.UseAzureStorageClustering(o => o.TableServiceClient = settings.TableService());
}
