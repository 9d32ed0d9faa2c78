using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SrMobile.Workers;

public static class DeviceWorkerRegistration
{
    /// <summary>
    /// The device worker and what it needs, settings from <c>SrMobile:Device</c>: the real <see cref="EngineMeasurer"/>,
    /// or <see cref="SimulatedMeasurer"/> under <c>SrMobile:Simulate</c> (never a real result). The artifact store is
    /// the host's: a silo's own store, or the agent's <see cref="ClusterArtifactStore"/>.
    /// </summary>
    public static IServiceCollection AddSrMobileDeviceWorker(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<DeviceOptions>(configuration.GetSection(DeviceOptions.Section));
        if (configuration.GetValue("SrMobile:Simulate", false))
            services.AddSingleton<ICandidateMeasurer, SimulatedMeasurer>();
        else
            services.AddSingleton<ICandidateMeasurer, EngineMeasurer>();
        services.AddSingleton<DeviceSessionHolder>();
        services.AddHostedService<DeviceWorker>();
        return services;
    }
}
