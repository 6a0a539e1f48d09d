// Test-only shim: Debian's kotlinx-coroutines (1.0) predates this marker
// annotation that the generated bindings opt into. Real apps use a current
// kotlinx-coroutines and do not compile this file.
package kotlinx.coroutines

@RequiresOptIn(level = RequiresOptIn.Level.WARNING)
@Retention(AnnotationRetention.BINARY)
annotation class DelicateCoroutinesApi
