using System.Security.Cryptography;
using System.Text;
using SrMobile.Contracts;
using SrMobile.Grains.Placement;
using SrMobile.Grains.Storage;

namespace SrMobile.Grains;

[GenerateSerializer]
public sealed class DeviceTokenRecord
{
    [Id(0)] public DeviceToken Token { get; set; } = null!;

    /// <summary>SHA-256 of the whole secret.</summary>
    [Id(1)] public byte[] SecretDigest { get; set; } = [];
}

[GenerateSerializer]
public sealed class DeviceTokensState
{
    [Id(0)] public Dictionary<string, DeviceTokenRecord> Tokens { get; set; } = [];
}

/// <summary>See <see cref="IDeviceTokensGrain"/>. A failed write deactivates, so memory never holds a token storage lacks.</summary>
[SiloRole(SiloRoles.Coordinator)]
public sealed class DeviceTokensGrain(
    [PersistentState("device-tokens", WorkQueueGrain.StorageName)] IPersistentState<DeviceTokensState> state) : Grain, IDeviceTokensGrain
{
    private const string Prefix = "srmd_";

    public async Task<IssuedDeviceToken> Create(string deviceKey, TimeSpan? lifetime, string? member = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceKey, "device key");
        if (lifetime is { } span && span <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(lifetime), span, "a token's lifetime must be positive");
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(6)).ToLowerInvariant();
        var secret = $"{Prefix}{id}_{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        var now = DateTimeOffset.UtcNow;
        var token = new DeviceToken(id, deviceKey.Trim(), now, lifetime is { } l ? now + l : null, null, member);
        // A member's new token replaces its earlier ones: a silo restarting never leaves a trail of live tokens.
        foreach (var earlier in state.State.Tokens.Values.Where(r => member is not null && r.Token.Member == member && r.Token.RevokedUtc is null))
            earlier.Token = earlier.Token with { RevokedUtc = now };
        state.State.Tokens[id] = new DeviceTokenRecord { Token = token, SecretDigest = Digest(secret) };
        await Write();
        return new IssuedDeviceToken(token, secret);
    }

    public Task<IReadOnlyList<DeviceToken>> List() => Task.FromResult<IReadOnlyList<DeviceToken>>(
        [.. state.State.Tokens.Values.Select(r => r.Token).OrderByDescending(t => t.CreatedUtc).ThenBy(t => t.Id, StringComparer.Ordinal)]);

    public async Task<bool> Revoke(string id)
    {
        if (!state.State.Tokens.TryGetValue(id ?? "", out var record))
            return false;
        if (record.Token.RevokedUtc is null)
        {
            record.Token = record.Token with { RevokedUtc = DateTimeOffset.UtcNow };
            await Write();
        }
        return true;
    }

    public Task<DeviceTokenCheck> Check(string secret)
    {
        var parts = (secret ?? "").Split('_');
        if (parts.Length != 3 || parts[0] + "_" != Prefix || !state.State.Tokens.TryGetValue(parts[1], out var record)
            || !CryptographicOperations.FixedTimeEquals(record.SecretDigest, Digest(secret!)))
            return Task.FromResult(new DeviceTokenCheck(null, "the token is not one this cluster issued"));
        return Task.FromResult(Standing(record.Token));
    }

    public Task<DeviceTokenCheck> Live(string id) => Task.FromResult(
        state.State.Tokens.TryGetValue(id ?? "", out var record) ? Standing(record.Token) : new DeviceTokenCheck(null, $"token {id} is not one this cluster issued"));

    private static DeviceTokenCheck Standing(DeviceToken token) =>
        token.RevokedUtc is { } revoked ? new DeviceTokenCheck(null, $"token {token.Id} was revoked at {revoked:u}")
        : !token.LiveAt(DateTimeOffset.UtcNow) ? new DeviceTokenCheck(null, $"token {token.Id} expired at {token.ExpiresUtc:u}")
        : new DeviceTokenCheck(token, null);

    private Task Write() => state.WriteOrDeactivate(this);

    private static byte[] Digest(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '.');
}
