namespace Grid.Training.Faults;

/// <summary>What <see cref="FaultInjector"/> does to one attempt of a prompt group.</summary>
public enum InjectedFault
{
    /// <summary>The attempt runs as it would without injection.</summary>
    None,

    /// <summary>The generation throws <see cref="InjectedFaultException"/>.</summary>
    GenerationThrows,

    /// <summary>The generation never returns; the attempt fails by its timeout.</summary>
    GenerationStalls,

    /// <summary>The generation runs; the verifier call that scores it throws <see cref="InjectedFaultException"/>.</summary>
    VerifierThrows,
}
