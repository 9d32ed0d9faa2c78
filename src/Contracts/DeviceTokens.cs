namespace SrMobile.Contracts;

/// <summary>
/// A join token as the cluster keeps it: never the secret, only what it is for and whether it still holds.
/// <see cref="Member"/>: the silo that issued it to its own device worker (a cluster member needs no token handed to it).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DeviceToken(
    [property: Id(0)] string Id,
    [property: Id(1)] string DeviceKey,
    [property: Id(2)] DateTimeOffset CreatedUtc,
    [property: Id(3)] DateTimeOffset? ExpiresUtc,
    [property: Id(4)] DateTimeOffset? RevokedUtc,
    [property: Id(5)] string? Member = null)
{
    public bool LiveAt(DateTimeOffset now) => RevokedUtc is null && (ExpiresUtc is not { } expires || now < expires);
}

/// <summary>A new token and its secret, which is shown once: the cluster stores only its SHA-256.</summary>
[GenerateSerializer, Immutable]
public sealed record IssuedDeviceToken(
    [property: Id(0)] DeviceToken Token,
    [property: Id(1)] string Secret);

/// <summary>What a presented secret is worth: the token it belongs to when it is live, else why not.</summary>
[GenerateSerializer, Immutable]
public sealed record DeviceTokenCheck(
    [property: Id(0)] DeviceToken? Token,
    [property: Id(1)] string? Refusal)
{
    public bool Valid => Token is not null && Refusal is null;
}

/// <summary>
/// The cluster's device join tokens (key <see cref="Key"/>, one per cluster), with which boards outside the cluster
/// join as device agents for one device key. Secrets look like <c>srmd_{id}_{random}</c>; only their SHA-256 is stored,
/// compared in fixed time.
/// </summary>
public interface IDeviceTokensGrain : IGrainWithStringKey
{
    public const string Key = "device-tokens";

    /// <summary>
    /// A token for <paramref name="deviceKey"/>, valid for <paramref name="lifetime"/> (forever when null). With
    /// <paramref name="member"/> (a silo issuing one to its own device worker) it revokes that member's earlier tokens.
    /// </summary>
    Task<IssuedDeviceToken> Create(string deviceKey, TimeSpan? lifetime, string? member = null);

    /// <summary>Every token, newest first, revoked and expired ones too.</summary>
    Task<IReadOnlyList<DeviceToken>> List();

    /// <summary>Revokes the token <paramref name="id"/>; false when there is none.</summary>
    Task<bool> Revoke(string id);

    /// <summary>Whether <paramref name="secret"/> is a live token: unknown, revoked and expired secrets are refused, saying which.</summary>
    Task<DeviceTokenCheck> Check(string secret);

    /// <summary>Whether the token <paramref name="id"/> still holds (a device session's standing), else why not.</summary>
    Task<DeviceTokenCheck> Live(string id);
}
