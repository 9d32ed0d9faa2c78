using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Metadata;
using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;
using SrMobile.Contracts.Telemetry;

namespace SrMobile.Grains.Placement;

/// <summary>The roles a silo can take (silo metadata <c>role</c>, comma-separated, several per process allowed).</summary>
public static class SiloRoles
{
    public const string MetadataKey = "role";
    public const string Coordinator = "coordinator";
    public const string Trainer = "trainer";
    public const string Device = "device";

    public static bool Has(IReadOnlyDictionary<string, string> metadata, string role) =>
        metadata.TryGetValue(MetadataKey, out var roles) &&
        roles.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Contains(role, StringComparer.Ordinal);
}

/// <summary>
/// Places a grain only on silos whose metadata has the given role. (The built-in metadata filters compare with the
/// calling silo's values, and SiloRoleBasedPlacement matches the grain key against the assembly name: neither can
/// say "a silo with role=trainer".) With no such silo the call fails with "No active nodes are compatible".
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloRoleAttribute(string role) : PlacementFilterAttribute(new SiloRolePlacementFilterStrategy(role));

public sealed class SiloRolePlacementFilterStrategy : PlacementFilterStrategy
{
    private const string RoleProperty = "srmobile-role";

    // Orleans creates the strategy with this constructor, then fills the role from the grain's properties.
    public SiloRolePlacementFilterStrategy()
        : base(0)
    {
    }

    public SiloRolePlacementFilterStrategy(string role)
        : base(0)
    {
        Role = role;
    }

    public string Role { get; private set; } = "";

    public override void AdditionalInitialize(GrainProperties properties) =>
        Role = GetPlacementFilterGrainProperty(RoleProperty, properties) ?? "";

    protected override IEnumerable<KeyValuePair<string, string>> GetAdditionalGrainProperties(
        IServiceProvider services, Type grainClass, GrainType grainType, IReadOnlyDictionary<string, string> existingProperties)
    {
        yield return new KeyValuePair<string, string>(RoleProperty, Role);
    }
}

public sealed class SiloRolePlacementFilterDirector(ISiloMetadataCache metadata) : IPlacementFilterDirector
{
    public IEnumerable<SiloAddress> Filter(PlacementFilterStrategy filterStrategy, PlacementTarget target, IEnumerable<SiloAddress> silos)
    {
        var role = ((SiloRolePlacementFilterStrategy)filterStrategy).Role;
        return silos.Where(silo => SiloRoles.Has(metadata.GetSiloMetadata(silo).Metadata, role)).ToList();
    }
}

public static class SiloRolePlacementExtensions
{
    /// <summary>Publishes this silo's roles as metadata and enables <see cref="SiloRoleAttribute"/> placement.</summary>
    public static ISiloBuilder AddSiloRoles(this ISiloBuilder silo, IEnumerable<string> roles)
    {
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRoles.MetadataKey] = string.Join(',', roles) });
        silo.Services.AddPlacementFilter<SiloRolePlacementFilterStrategy, SiloRolePlacementFilterDirector>(ServiceLifetime.Singleton);
        // Every silo of SrMobile grains has their instruments; a host that configured its own identity registered them first.
        silo.Services.AddMetrics();
        silo.Services.TryAddSingleton(services => new SrMobileMetrics(services.GetRequiredService<IMeterFactory>(), SrMobileMetrics.DefaultService, SrMobileMetrics.DefaultInstance));
        return silo;
    }
}
