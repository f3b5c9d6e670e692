using Grid.Core.Settings;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Serializers;

namespace Grid.Hosting.Serialization;

/// <summary>
/// The run settings records (Grid.Core, which knows nothing of Orleans) cross grain calls through Orleans' System.Text.Json
/// codec, and are never deep-copied: they are immutable, so a call inside a silo hands over the same instance. Every
/// silo and client of a Grid cluster registers this (AddGridSilo, AddGridGrains and AddGridClient do).
/// </summary>
public static class GridSettingsSerialization
{
    /// <summary>The settings types that may travel on their own or inside a contract.</summary>
    public static IReadOnlySet<Type> Types { get; } = new HashSet<Type>
    {
        typeof(RunSettings), typeof(KlSettings), typeof(SftSettings), typeof(ModelSettings), typeof(RolloutSettings),
        typeof(FaultSettings), typeof(DataSettings),
    };

    /// <summary>Registers the codec and the no-copy copier once, however often it is called.</summary>
    public static IServiceCollection AddGridSettingsCodec(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(d => d.ServiceType == typeof(ImmutableSettingsCopier)))
        {
            return services;
        }

        // Serialized as JSON (doubles round-trip exactly), copied by nobody but the copier below.
        services.AddSerializer(serializer => serializer.AddJsonSerializer(isSerializable: Types.Contains, isCopyable: null));
        services.AddSingleton<ImmutableSettingsCopier>();
        services.AddSingleton<IGeneralizedCopier>(sp => sp.GetRequiredService<ImmutableSettingsCopier>());
        return services;
    }

    /// <summary>The settings records are immutable: the "copy" is the instance itself.</summary>
    private sealed class ImmutableSettingsCopier : IGeneralizedCopier
    {
        public object? DeepCopy(object? input, CopyContext context) => input;

        public bool IsSupportedType(Type type) => Types.Contains(type);
    }
}
