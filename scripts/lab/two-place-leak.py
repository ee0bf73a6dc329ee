# A leak held from two places, for `clrheap leaks` (run by ../shared/lab/bin/make-py-dump).
#
# An interop layer's pattern: every subscription to a publisher's event is also kept in a
# list of wrappers. 4,000 subscribers (Hashtables, each holding a 2 KB payload) are then
# referenced by the event's invocation list *and* by the wrapper list, which hang from two
# different roots: no single object dominates them, so a dominator-only leak finder sees
# nothing, though the event's invocation list grows without bound.
import clr  # noqa: F401
from System import AppDomain, Array, Byte, Delegate, EventHandler, Object, String
from System.Collections import Hashtable
from System.Collections.Generic import List
from System import Progress

SUBSCRIBERS = 4000

# The publisher: Progress<Object> has a field-like event, ProgressChanged
# (EventHandler<Object>), whose backing field holds the multicast delegate.
publisher = Progress[Object]()
# The interop layer's wrappers, in the app's data store (AppContext's static dictionary).
wrappers = List[Object]()
AppDomain.CurrentDomain.SetData("LeakLab.Wrappers", wrappers)

handler_type = clr.GetClrType(EventHandler[Object])
event = publisher.GetType().GetEvent("ProgressChanged")
for i in range(SUBSCRIBERS):
    subscriber = Hashtable()
    subscriber["payload"] = Array.CreateInstance(Byte, 2048)
    subscriber["id"] = String("subscriber-%05d" % i)
    # Hashtable.Add(object, object) fits EventHandler<object>(object sender, object e).
    d = Delegate.CreateDelegate(handler_type, subscriber, "Add")
    # Through reflection, so the delegate itself is subscribed (pythonnet's `+=` would
    # subscribe a dispatcher of its own that calls the Python object).
    event.AddEventHandler(publisher, d)
    wrappers.Add(d)

# A Python global keeps the publisher (through pythonnet's strong GC handle); the wrapper
# list is held by AppContext's data store only: two roots, no common dominator but the
# roots themselves.
del subscriber, d, wrappers
