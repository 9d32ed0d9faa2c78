using SrMobile.Contracts;

namespace SrMobile.Grains.Tests;

public class DeviceTokensGrainTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private IDeviceTokensGrain Tokens => fixture.Grains.GetGrain<IDeviceTokensGrain>(IDeviceTokensGrain.Key);

    [Fact]
    public async Task A_token_admits_its_secret_for_its_device_key_until_it_is_revoked_and_is_listed_without_it()
    {
        var issued = await Tokens.Create("pixel-8", TimeSpan.FromDays(30));
        Assert.StartsWith($"srmd_{issued.Token.Id}_", issued.Secret, StringComparison.Ordinal);

        var check = await Tokens.Check(issued.Secret);
        Assert.True(check.Valid, check.Refusal);
        Assert.Equal("pixel-8", check.Token!.DeviceKey);
        var listed = Assert.Single(await Tokens.List(), t => t.Id == issued.Token.Id);
        Assert.Equal(issued.Token, listed);
        Assert.DoesNotContain(issued.Secret, listed.ToString(), StringComparison.Ordinal);

        Assert.True(await Tokens.Revoke(issued.Token.Id));
        var refused = await Tokens.Check(issued.Secret);
        Assert.False(refused.Valid);
        Assert.Contains($"token {issued.Token.Id} was revoked", refused.Refusal);
        Assert.NotNull(Assert.Single(await Tokens.List(), t => t.Id == issued.Token.Id).RevokedUtc);
        Assert.False(await Tokens.Revoke("no-such-token"));
    }

    [Fact]
    public async Task Unknown_tampered_and_expired_secrets_are_refused_saying_why()
    {
        var issued = await Tokens.Create("rpi-5", null);
        var tampered = issued.Secret[..^4] + (issued.Secret.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        foreach (var secret in new[] { "", "not-a-token", "srmd_000000000000_abc", tampered })
            Assert.Equal("the token is not one this cluster issued", (await Tokens.Check(secret)).Refusal);

        var brief = await Tokens.Create("rpi-5", TimeSpan.FromMilliseconds(200));
        Assert.True((await Tokens.Check(brief.Secret)).Valid);
        await Task.Delay(400);
        Assert.Contains($"token {brief.Token.Id} expired", (await Tokens.Check(brief.Secret)).Refusal);

        await Assert.ThrowsAnyAsync<ArgumentException>(() => Tokens.Create("rpi-5", TimeSpan.Zero));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Tokens.Create(" ", null));
    }
}
